"""A worker killed mid-run loses nothing and pays for nothing twice.

Through `agentflows up`, with the agents on the fake provider through the real OpenAI SDK: a CRM
webhook starts a batch; while the writer's request is in flight the process running the batch is
SIGKILLed (the researcher's and router's requests are done). The runner reports the run Crashed;
it is retried the way the UI's Retry button does it. The retry replays the finished requests from
Prefect's result store (the provider sees no second researcher or router request), sends the
writer's again, drafts, and the approval then sends exactly one email.

This is the runner's (and the workers') path, so warm runs are off here (`AGENTFLOWS_WARM_RUNS=`): a receiver
killed mid-run is tests/triggers/test_warm_crash.py.
"""

from __future__ import annotations

import os
import re
import signal
from collections import Counter
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from agentflows.db import session_scope
from agentflows.db.crm import Contact, OutreachDraft
from tests.helpers import processes_running, wait_for
from tests.triggers.stack import stack_env, start_up

pytestmark = pytest.mark.e2e

_AGENT = re.compile(r'<data kind="[a-z0-9_-]+" for="(?P<agent>[a-z0-9_-]+)">')


def requests_by_agent(fake_provider) -> Counter[str]:  # type: ignore[no-untyped-def]
    """Requests the provider received, by agent (writers counted together)."""
    agents = []
    for request in fake_provider.requests:
        found = _AGENT.search(request.last_user_text or "")
        name = found.group("agent") if found else "?"
        agents.append("outreach-writer" if name.startswith("outreach-writer") else name)
    return Counter(agents)


def test_a_worker_killed_mid_drafting_retries_without_repaying(stack_data: tuple[Path, str], fake_provider):
    data, db_url = stack_data
    with session_scope(db_url) as session:
        contact = session.scalars(select(Contact).order_by(Contact.id)).first()
    fake_provider.set_faults(latency_ms=1500, retry_after_s=0.05)  # time to kill while the writer waits
    env = stack_env(
        data,
        AGENTFLOWS_MODEL=f"openai-compatible:gpt-4o-mini@{fake_provider.openai_base_url}",
        AGENTFLOWS_OPENAI_API_KEY="sk-test-not-a-real-key",
        AGENTFLOWS_MODEL_REQUEST_RETRIES="0",
        AGENTFLOWS_WARM_RUNS="",  # the batch runs in a runner child process, the one this test kills
    )
    up = start_up(data, env)
    try:
        batch = up.started(up.signed_post("crm", {"contact_ids": [contact.id]}))["flow_run_id"]
        wait_for(lambda: requests_by_agent(fake_provider)["outreach-writer"] == 1, timeout=120, what="the writer")
        in_flight = {"outreach-researcher": 1, "outreach-writer": 1}  # the workspace's rules route: no request
        assert requests_by_agent(fake_provider) == in_flight
        killed = wait_for(lambda: processes_running(batch), timeout=10, what="the process running the batch")
        for pid in killed:
            os.kill(pid, signal.SIGKILL)
        wait_for(lambda: up.run_state(batch) == "CRASHED", timeout=60, what="the runner to report the crash")
        with session_scope(db_url) as session:
            assert session.scalar(select(OutreachDraft)) is None, "the crash came before the drafts were saved"

        retried = httpx.post(  # what the UI's Retry button sends
            f"{up.api}/flow_runs/{batch}/set_state",
            json={"state": {"type": "SCHEDULED", "name": "AwaitingRetry", "message": "Retry"}, "force": True},
            timeout=10,
        )
        assert retried.status_code in (200, 201), retried.text
        wait_for(lambda: up.run_state(batch) == "COMPLETED", timeout=180, what="the retried batch")
        counts = requests_by_agent(fake_provider)
        assert counts == {"outreach-researcher": 1, "outreach-writer": 2}, (
            f"finished requests were replayed, only the interrupted one was sent again: {counts}"
        )

        def suspended_draft() -> OutreachDraft | None:
            with session_scope(db_url) as session:
                drafts = session.scalars(select(OutreachDraft)).all()
            assert len(drafts) <= 1, "one draft for one prospect, whatever was retried"
            waiting = drafts and drafts[0].flow_run_id and up.run_state(drafts[0].flow_run_id) == "PAUSED"
            return drafts[0] if waiting else None

        draft = wait_for(suspended_draft, timeout=120, what="the approval to suspend")
        approved = up.cli("approve", draft.flow_run_id, "--variant", "1", "--reviewer", "Dana")
        assert approved.returncode == 0, approved.stdout + approved.stderr
        wait_for(lambda: up.run_state(draft.flow_run_id) == "COMPLETED", timeout=120, what="the approval run")
        mail = list((data / "mail").glob("*.eml"))
        assert len(mail) == 1 and contact.email in mail[0].read_text()
        assert requests_by_agent(fake_provider)["outreach-writer"] == 2, "approving re-paid nothing"
    finally:
        up.stop()
