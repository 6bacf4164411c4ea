"""Served outreach waits for its reviewer without holding a process, and survives losing its runner.

Through `agentflows up` (a runner serving every deployment): a CRM webhook starts a batch, which
drafts and hands each draft to its own `outreach-approval` run and finishes. That run suspends: it
is Paused ("Suspended") in Prefect while no process on the machine runs it. The runner is then
killed (SIGKILL) and the whole stack restarted; the reviewer approves from the CLI, Prefect
schedules the run again, it replays (the review is not redrafted) and sends exactly one email.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from agentflows.db import session_scope
from agentflows.db.crm import Contact, OutboxMessage, OutreachDraft
from tests.helpers import processes_running, wait_for
from tests.triggers.stack import UpProcess, stack_env, start_up

pytestmark = pytest.mark.e2e


def run(up: UpProcess, flow_run_id: str) -> dict:
    return httpx.get(f"{up.api}/flow_runs/{flow_run_id}", timeout=10).json()


def test_served_approval_suspends_survives_a_killed_runner_and_sends_once(stack_data: tuple[Path, str]):
    data, db_url = stack_data
    with session_scope(db_url) as session:
        contact = session.scalars(select(Contact).order_by(Contact.id)).first()
    env = stack_env(data)
    up = start_up(data, env)
    try:
        answer = up.signed_post("crm", {"contact_ids": [contact.id]})
        batch_id = up.started(answer)["flow_run_id"]
        wait_for(lambda: up.run_state(batch_id) == "COMPLETED", timeout=120, what="the batch to finish drafting")

        def suspended_draft() -> OutreachDraft | None:
            with session_scope(db_url) as session:
                draft = session.scalar(select(OutreachDraft).where(OutreachDraft.contact_id == contact.id))
            if draft and draft.flow_run_id:
                state = run(up, draft.flow_run_id)["state"]
                return draft if state["type"] == "PAUSED" and state["name"] == "Suspended" else None
            return None

        draft = wait_for(suspended_draft, timeout=120, what="the approval run to suspend")
        approval_id = draft.flow_run_id
        wait_for(lambda: not processes_running(approval_id), timeout=30, what="the suspended run's process to exit")
        batch = run(up, batch_id)
        assert batch["state"]["type"] == "COMPLETED", "the batch does not wait for its reviewers"

        os.kill(up.services()["runner"], signal.SIGKILL)  # the machine loses its runner mid-wait
        up.stop()
    finally:
        if up.process.poll() is None:
            up.stop()

    up = start_up(data, env)  # a fresh stack: the approval is still waiting, in Prefect only
    try:
        assert run(up, approval_id)["state"]["name"] == "Suspended"
        pending = up.cli("approvals")
        assert pending.returncode == 0 and approval_id in pending.stdout, pending.stdout + pending.stderr
        approved = up.cli("approve", approval_id, "--variant", "2", "--reviewer", "Dana")
        assert approved.returncode == 0, approved.stdout + approved.stderr
        wait_for(lambda: up.run_state(approval_id) == "COMPLETED", timeout=120, what="the resumed approval run")
        mail = list((data / "mail").glob("*.eml"))
        assert len(mail) == 1 and contact.email in mail[0].read_text()
        with session_scope(db_url) as session:
            final = session.scalar(select(OutreachDraft).where(OutreachDraft.id == draft.id))
            assert final.status == "approved" and final.chosen_variant == 2 and final.reviewer == "Dana"
            assert final.digest == draft.digest, "the resumed run reviewed the same drafts, not new ones"
            assert session.scalar(select(func.count(OutreachDraft.id))) == 1
            assert session.scalar(select(func.count(OutboxMessage.id))) == 1
        again = up.cli("approve", approval_id, "--variant", "1", "--reviewer", "Eve")
        assert again.returncode != 0, "a finished approval cannot be answered twice"
    finally:
        up.stop()
    assert len(list((data / "mail").glob("*.eml"))) == 1
