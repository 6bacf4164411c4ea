"""Start and stop a local Prefect server (API + UI) as a child process.

Used by `agentflows demo`/`up` and by the test suite. The server gets its own PREFECT_HOME (SQLite
state lives there), analytics off, and is stopped by its own process group at exit, never by name.
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


@dataclass
class PrefectServer:
    process: subprocess.Popen[bytes]
    api_url: str
    log_path: Path

    @property
    def ui_url(self) -> str:
        return self.api_url.removesuffix("/api")

    def stop(self, timeout: float = 15) -> None:
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
) -> PrefectServer:
    """Start `prefect server start` and wait until `/api/health` answers."""
    port = port or free_port()
    if port_in_use(host, port):
        raise ServerStartError(
            f"port {host}:{port} is already in use: is another Prefect server running? "
            "Stop it, or set AGENTFLOWS_PREFECT_PORT to another port."
        )
    home.mkdir(parents=True, exist_ok=True)
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
    server = PrefectServer(process=process, api_url=f"http://{host}:{port}/api", log_path=log_path)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ServerStartError(f"Prefect server exited with code {process.returncode}; see {log_path}")
        if healthy(server.api_url):
            return server
        time.sleep(0.5)
    server.stop()
    raise ServerStartError(f"Prefect server did not become healthy within {timeout:.0f}s; see {log_path}")
