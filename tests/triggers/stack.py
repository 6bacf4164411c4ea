"""`agentflows up` as a user runs it: a subprocess on free loopback ports with its own data directory.

The test session's own Prefect and project settings are stripped from the environment, so the stack
starts its own Prefect server (or uses the database URLs a test passes) exactly as on a laptop.
"""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from agentflows.prefect_server import free_port

AGENTFLOWS = str(Path(sys.executable).with_name("agentflows"))


@dataclass
class UpProcess:
    process: subprocess.Popen[bytes]
    output: Path
    env: dict[str, str]
    data_dir: Path

    @property
    def api(self) -> str:
        return f"http://127.0.0.1:{self.env['AGENTFLOWS_PREFECT_PORT']}/api"

    @property
    def auth(self) -> tuple[str, str] | None:
        """The Prefect API's basic auth, when `up --generate-auth` wrote it (what the UI's Login takes)."""
        path = self.data_dir / "prefect-auth"
        if not path.exists():
            return None
        user, _, password = path.read_text().strip().partition(":")
        return user, password

    def api_get(self, path: str) -> httpx.Response:
        """GET on the stack's Prefect API, authenticated like its own clients."""
        return httpx.get(f"{self.api}{path}", auth=self.auth, timeout=10)

    @property
    def text(self) -> str:
        return self.output.read_text(errors="replace")

    def cli(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        """Another `agentflows` command in a second terminal of the same user."""
        return subprocess.run([AGENTFLOWS, *args], env=self.env, capture_output=True, text=True, timeout=timeout)

    def signed_post(self, source: str, payload: dict[str, Any], *extra: str) -> httpx.Response:
        """`agentflows webhook sign` + the curl command it prints, as the README says."""
        file = self.data_dir / f"payload-{source}-{time.monotonic_ns()}.json"
        file.write_text(json.dumps(payload))
        signed = self.cli("webhook", "sign", "--source", source, "--file", str(file), *extra)
        assert signed.returncode == 0, signed.stderr
        done = subprocess.run(
            [*shlex.split(signed.stdout.strip()), "-w", "\n%{http_code}"], capture_output=True, text=True, timeout=60
        )
        body, _, status = done.stdout.rpartition("\n")
        return httpx.Response(int(status), content=body.encode())

    def started(self, answer: httpx.Response, timeout: float = 60) -> dict[str, Any]:
        """The answer once the run exists, following its `status_url` while the delivery is queued."""
        data = answer.json()
        url = f"http://127.0.0.1:{self.env['AGENTFLOWS_WEBHOOK_PORT']}{data['status_url']}"
        deadline = time.monotonic() + timeout
        while data["flow_run_id"] is None:
            assert time.monotonic() < deadline, f"delivery still queued after {timeout} s: {data}"
            time.sleep(0.2)
            data = httpx.get(url, timeout=10).json()
        return data

    def run_state(self, flow_run_id: str) -> str:
        run = self.api_get(f"/flow_runs/{flow_run_id}").json()
        return (run.get("state") or {}).get("type", "NONE")

    def services(self) -> dict[str, int]:
        state = json.loads((self.data_dir / "up.json").read_text())
        return {s["name"]: s["pid"] for s in state["services"]}

    def stop(self) -> int | None:
        """Ctrl-C, as a user would; SIGKILL to the group only if `up` hangs (the test then fails)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(10)
        return self.process.returncode


def stack_env(data_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "AGENTFLOWS_"))}
    return (
        env
        | {
            "AGENTFLOWS_DATA_DIR": str(data_dir),
            "AGENTFLOWS_PREFECT_PORT": str(free_port()),
            "AGENTFLOWS_WEBHOOK_PORT": str(free_port()),
            "AGENTFLOWS_SMTP_URL": f"smtp://127.0.0.1:{free_port()}",
            "AGENTFLOWS_MODEL": "offline",
            "AGENTFLOWS_APPROVAL_POLL_S": "1",
            "AGENTFLOWS_WEB_TIMEOUT_S": "2",
            "PREFECT_LOGGING_LEVEL": "WARNING",
        }
        | extra
    )


def start_up(data_dir: Path, env: dict[str, str], *args: str, timeout: float = 180) -> UpProcess:
    """Start `agentflows up` and wait until it says it is up (or fail with its output)."""
    return start_command(data_dir, env, ["up", *args], "Ctrl-C stops everything", "up-output.txt", timeout)


def start_command(
    data_dir: Path, env: dict[str, str], argv: list[str], ready: str, output_name: str, timeout: float = 180
) -> UpProcess:
    """Start `agentflows <argv>` (`up`, `demo`) and wait until its output says `ready` (or fail with its output)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    output = data_dir / output_name
    process = subprocess.Popen(
        [AGENTFLOWS, *argv],
        env=env | {"COLUMNS": "200"},
        stdout=output.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    up = UpProcess(process=process, output=output, env=env, data_dir=data_dir)
    deadline = time.monotonic() + timeout
    while ready not in up.text:
        if process.poll() is not None or time.monotonic() > deadline:
            up.stop()
            raise AssertionError(
                f"`agentflows {argv[0]}` did not get ready (exit {process.returncode}):\n{up.text[-4000:]}"
            )
        time.sleep(0.5)
    return up
