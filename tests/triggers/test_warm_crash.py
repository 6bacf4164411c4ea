"""A receiver killed mid-run: its warm run is marked Crashed, and a redelivery completes it once.

The receiver runs in its own process (uvicorn, as `agentflows up` starts it) so it can be SIGKILLed;
the visitor's website answers slowly the first time, so the kill lands while the run is inside its
fetch task with the CRM lookup already finished. The next receiver marks the run Crashed at startup;
the landing page redelivers the same webhook and gets the plan of the same flow run, whose finished
steps replay from their persisted results instead of running again.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from uuid import UUID

import httpx
import pytest
from sqlalchemy import func, select

from agentflows.db import session_scope
from agentflows.db.webhooks import LandingPlan
from agentflows.prefect_server import free_port
from deployments.webhooks import LANDING_PLAN
from tests.helpers import wait_for
from tests.triggers.conftest import SECRETS, count_runs, signed_headers

pytestmark = pytest.mark.e2e

PAGE = (
    b"<html><body><article><p>We ship fresh produce to grocery chains across the Midwest.</p></article></body></html>"
)


class SlowSite:
    """A website that hangs while `slow` is set and says when a request arrived."""

    def __init__(self) -> None:
        self.slow = threading.Event()
        self.hit = threading.Event()
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                site.hit.set()
                deadline = time.monotonic() + 60
                while site.slow.is_set() and time.monotonic() < deadline:
                    time.sleep(0.05)
                self.send_response(200)
                self.send_header("content-type", "text/html")
                self.send_header("content-length", str(len(PAGE)))
                self.end_headers()
                self.wfile.write(PAGE)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"


def start_receiver(env: dict[str, str], port: int, log: Path) -> subprocess.Popen[bytes]:
    argv = [sys.executable, "-m", "uvicorn", "--factory", "deployments.webhooks.app:create_app", "--port", str(port)]
    process = subprocess.Popen(argv, env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT, start_new_session=True)
    wait_for(lambda: _answers(f"http://127.0.0.1:{port}/healthz"), timeout=60, what=f"the receiver (log: {log.name})")
    return process


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def task_runs(flow_run_id: str) -> list[tuple[str, str]]:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    async def read() -> list[tuple[str, str]]:
        async with get_client() as client:
            runs = await client.read_task_runs(
                flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[UUID(flow_run_id)]))
            )
            return sorted((r.name, r.state.name if r.state else "") for r in runs)

    return asyncio.run(read())


def test_a_killed_warm_run_is_marked_crashed_and_a_redelivery_completes_it_once(
    prefect_server, trigger_deployments, empty_db, tmp_path
):
    site = SlowSite()
    site.slow.set()
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("AGENTFLOWS_")} | {
        "PREFECT_API_URL": prefect_server,
        "PREFECT_RESULTS_PERSIST_BY_DEFAULT": "true",
        "PREFECT_HOME": str(tmp_path / "prefect-home"),  # both receivers read the results the first wrote
        "AGENTFLOWS_DATABASE_URL": empty_db,
        "AGENTFLOWS_DATA_DIR": str(tmp_path / "data"),
        "AGENTFLOWS_MODEL": "offline",
        "AGENTFLOWS_WARM_RUNS": LANDING_PLAN,
        "AGENTFLOWS_WEBHOOK_ANSWER_WITHIN_S": "10",
        "AGENTFLOWS_LANDING_ALLOW_PRIVATE_WEBSITES": "true",
        "AGENTFLOWS_WEB_TIMEOUT_S": "30",
        "AGENTFLOWS_WEBHOOK_SECRET_LANDING": SECRETS["landing"][0],
    }
    base = f"http://127.0.0.1:{port}"
    body = json.dumps(
        {"company": "Acme Produce", "role": "VP", "email": "a@acme-produce.example", "website": site.url, "goals": "x"}
    ).encode()
    headers = signed_headers(SECRETS["landing"][0], body)
    before = count_runs(trigger_deployments[LANDING_PLAN])

    first = start_receiver(env, port, tmp_path / "receiver-1.log")
    try:
        answer = httpx.post(f"{base}/webhooks/landing/form-submitted", content=body, headers=headers, timeout=30)
        assert answer.status_code == 202, answer.text
        run_id = answer.json()["flow_run_id"]
        assert site.hit.wait(30), "the warm run never fetched the site"
        wait_for(
            lambda: any(n.startswith("match-crm-account") and s == "Completed" for n, s in task_runs(run_id)),
            timeout=20,
            what="the CRM lookup to finish before the kill",
        )
    finally:
        os.killpg(first.pid, signal.SIGKILL)
        first.wait(10)

    site.slow.clear()
    second = start_receiver(env, port, tmp_path / "receiver-2.log")  # its startup marks the orphan Crashed
    try:
        state = httpx.get(f"{prefect_server}/flow_runs/{run_id}", timeout=10).json()["state"]
        assert state["type"] == "CRASHED", state
        again = signed_headers(SECRETS["landing"][0], body, msg_id=headers["webhook-id"])  # the sender's redelivery
        done = httpx.post(f"{base}/webhooks/landing/form-submitted?wait=30", content=body, headers=again, timeout=60)
        assert done.status_code == 200, done.text
        assert done.json()["flow_run_id"] == run_id and done.json()["plan"]["company"] == "Acme Produce"
        run_url = f"{prefect_server}/flow_runs/{run_id}"
        wait_for(
            lambda: httpx.get(run_url, timeout=10).json()["state"]["type"] == "COMPLETED",
            timeout=20,
            what="the rerun to record its end",
        )
        copy = httpx.post(f"{base}/webhooks/landing/form-submitted?wait=30", content=body, headers=again, timeout=60)
        assert copy.json()["flow_run_id"] == run_id and copy.json()["state"] == "COMPLETED"  # no third run
        assert copy.json()["plan"] == done.json()["plan"]
    finally:
        os.killpg(second.pid, signal.SIGTERM)
        second.wait(20)
    assert count_runs(trigger_deployments[LANDING_PLAN]) == before + 1  # one flow run, run twice
    with session_scope(empty_db) as session:
        assert session.scalar(select(func.count(LandingPlan.id)).where(LandingPlan.flow_run_id == run_id)) == 1

    def lookups() -> list[str]:
        return sorted(s for n, s in task_runs(run_id) if n.startswith("match-crm-account"))

    # Task-run states reach the server as events, recorded a moment later: wait for both to be final.
    wait_for(lambda: len(lookups()) == 2 and "Running" not in lookups(), timeout=20, what="both CRM lookups' states")
    assert lookups() == ["Cached", "Completed"], lookups()  # the finished step replayed, not repeated
