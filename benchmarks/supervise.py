"""Child processes for the benchmarks: each in its own session (so a stop reaches its whole group and nothing
else), ready once its health URL answers 200."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]


def stop_process(process: subprocess.Popen[bytes], grace_s: float = 10) -> None:
    """SIGTERM to its process group, SIGKILL if it lingers past `grace_s` (its own group: never anything else)."""
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(grace_s)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(5)


def start_process(
    argv: list[str], health_url: str, env: dict[str, str], *, timeout_s: float = 90, grace_s: float = 10
) -> subprocess.Popen[bytes]:
    """Start `argv` in the project root with exactly `env`; return once `health_url` answers, or stop it and raise."""
    process = subprocess.Popen(argv, cwd=ROOT, env=env, start_new_session=True)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if httpx.get(health_url, timeout=1).status_code == 200:
                return process
        except httpx.HTTPError:
            time.sleep(0.2)
    stop_process(process, grace_s)
    raise RuntimeError(f"{argv} did not start")
