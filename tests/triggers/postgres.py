"""A throwaway PostgreSQL server on a loopback port, for the scale-out test and the webhook benchmark.

`initdb` refuses to run as root, so as root the cluster belongs to the `postgres` system user (in a
directory that user owns) and every server command runs through `runuser`; as anyone else it runs
as that user. The server listens on 127.0.0.1 only, trusts local connections (no password) and is
stopped by `pg_ctl stop` on its own data directory, never by name.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from agentflows.prefect_server import free_port


def pg_bin() -> Path | None:
    """The directory holding `initdb` and `pg_ctl`, or None when PostgreSQL is not installed."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


@dataclass
class Postgres:
    root: Path
    port: int
    bin: Path

    def url(self, database: str, driver: str = "psycopg") -> str:
        return f"postgresql+{driver}://app@127.0.0.1:{self.port}/{database}"

    def stop(self) -> None:
        _run(self.bin / "pg_ctl", "-D", str(self.root / "data"), "-m", "immediate", "-w", "stop", check=False)
        shutil.rmtree(self.root, ignore_errors=True)


def _as_owner(argv: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *argv] if os.geteuid() == 0 else argv


def _run(*argv: object, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(_as_owner([str(a) for a in argv]), check=check, capture_output=True, text=True, timeout=120)


def start_postgres(databases: list[str], *, durable: bool = False, max_connections: int = 300) -> Postgres:
    """initdb + start + createdb for each name. `durable=False` turns fsync off (tests only)."""
    binaries = pg_bin()
    if binaries is None:
        raise FileNotFoundError("PostgreSQL server binaries (initdb, pg_ctl) are not installed")
    root = Path(tempfile.mkdtemp(prefix="agentflows-pg-"))
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
    port = free_port()
    _run(binaries / "initdb", "-D", root / "data", "-A", "trust", "-U", "app", "--no-sync", "-E", "UTF8")
    options = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c max_connections={max_connections}"
    if not durable:
        options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
    _run(binaries / "pg_ctl", "-D", root / "data", "-o", options, "-l", root / "server.log", "-w", "start")
    server = Postgres(root=root, port=port, bin=binaries)
    try:
        for name in databases:
            _run(binaries / "createdb", "-h", "127.0.0.1", "-p", port, "-U", "app", name)
    except subprocess.CalledProcessError:
        server.stop()
        raise
    return server
