"""Prospect outreach end to end: real Prefect server, real SQLite CRM, real SMTP sink, offline model.

Three prospects are drafted concurrently and each pauses for approval; through Prefect's API two
are approved (different variants, one edited) and one is rejected. Bad answers are refused while
the run stays paused. Then: exactly the approved emails arrived, the CRM has the right activities.
"""

from __future__ import annotations

import asyncio
import logging
import time
from uuid import UUID

import pytest
from prefect.flow_runs import aresume_flow_run
from sqlalchemy import select

from agentflows.approvals import ApprovalError, approval_input, submit
from agentflows.compat.prefect import current_pause_key
from agentflows.db import session_scope
from agentflows.db.crm import Activity, ActivityKind, Contact, OutboxMessage, OutboxStatus, OutreachDraft
from agentflows.prefect_env import flow_run_url
from tasks.crm import pick_demo_prospects
from tests.helpers import flow_run_state, pending_by_contact, run_in_background, wait_for

pytestmark = pytest.mark.e2e


def body_of(message) -> str:
    return message.get_content().replace("\r\n", "\n").strip()


def pause_key_of(flow_run_id: str) -> str | None:
    return asyncio.run(current_pause_key(UUID(flow_run_id)))


def set_digest(flow_run_id: str, digest: str) -> None:
    """What a change of the stored drafts after the run paused looks like to the command line."""
    with session_scope() as s:
        s.scalar(select(OutreachDraft).where(OutreachDraft.flow_run_id == flow_run_id)).digest = digest


def test_three_prospects_two_approved_one_rejected(prefect_server, seeded_db, smtp_sink, caplog):
    from flows.prospect_outreach import prospect_outreach

    caplog.set_level(logging.INFO, logger="prefect")

    ids = pick_demo_prospects()
    assert len(ids) == 3
    bg = run_in_background(lambda: prospect_outreach(ids))
    pending = wait_for(
        lambda: bg.check() or ((p := pending_by_contact(ids)) and len(p) == 3 and p), what="three paused runs"
    )
    first, second, third = (pending[i] for i in ids)
    assert {p.writer for p in pending.values()} == {
        "existing-customer-expansion",
        "technical-buyer",
        "new-logo-executive",
    }
    for p in pending.values():
        assert flow_run_state(p.flow_run_id) == "PAUSED"
        assert len(p.variants) == 3 and len({v["angle"] for v in p.variants}) == 3

    # Invalid answers are refused and the run stays paused.
    with pytest.raises(ApprovalError, match="must be 1, 2 or 3"):
        approval_input(first.flow_run_id, variant=4, reviewer="Dana")
    with pytest.raises(ApprovalError, match="reviewer"):
        approval_input(first.flow_run_id, variant=1, reviewer="   ")
    raw = approval_input(first.flow_run_id, variant=1, reviewer="Dana") | {"decision": "send variant 4"}
    with pytest.raises(RuntimeError, match="Cannot resume"):  # the server checks the form's schema too
        asyncio.run(aresume_flow_run(UUID(first.flow_run_id), run_input=raw))
    assert flow_run_state(first.flow_run_id) == "PAUSED"

    # The form has no digest field (the server refuses one): the run's pause key carries the drafts' digest.
    with pytest.raises(RuntimeError, match="Cannot resume"):
        asyncio.run(
            aresume_flow_run(
                UUID(first.flow_run_id), run_input=raw | {"decision": "send variant 1", "drafts_digest": first.digest}
            )
        )
    for p in pending.values():
        assert pause_key_of(p.flow_run_id) == f"approval-{p.digest}-1"
        # our log line, just before the pause, says where and how to answer
        assert (
            f"waiting for a reviewer: open {flow_run_url(p.flow_run_id)} or run "
            f"`agentflows approve {p.flow_run_id} --variant N --reviewer NAME` "
            f"(or `agentflows reject {p.flow_run_id} --reviewer NAME --note WHY`)"
        ) in caplog.text

    # Drafts in the database that are not the ones the run paused on: the CLI refuses, the run stays paused.
    set_digest(first.flow_run_id, "0000000000000000")
    with pytest.raises(ApprovalError, match=f"waits on drafts {first.digest}, but the database holds drafts 0000"):
        asyncio.run(submit(first.flow_run_id, approval_input(first.flow_run_id, variant=1, reviewer="Dana")))
    assert flow_run_state(first.flow_run_id) == "PAUSED"
    set_digest(first.flow_run_id, first.digest)

    # An answer the flow cannot accept: it asks again under a new key and waits there; the refused answer,
    # stored under the first key, is not handed to the second pause (it would be refused again, and again).
    asyncio.run(
        submit(first.flow_run_id, approval_input(first.flow_run_id, variant=2, reviewer="Dana", subject="a\tb"))
    )
    wait_for(lambda: pause_key_of(first.flow_run_id) == f"approval-{first.digest}-2", what="the second pause")
    time.sleep(2)  # the flow polls every second: had it been handed an answer, it would have moved on by now
    assert (flow_run_state(first.flow_run_id), pause_key_of(first.flow_run_id)) == (
        "PAUSED",
        f"approval-{first.digest}-2",
    )
    assert "approval not accepted: The subject must be one line of text" in caplog.text

    # Approve variant 1 as drafted; approve variant 3 with an edited body; reject the third.
    asyncio.run(submit(first.flow_run_id, approval_input(first.flow_run_id, variant=1, reviewer="Dana")))
    edited_body = "Hi there,\n\nA shorter note from me, edited by a human.\n\nSam"
    asyncio.run(
        submit(
            second.flow_run_id,
            approval_input(second.flow_run_id, variant=3, reviewer="Lee", body=edited_body, note="shortened"),
        )
    )
    asyncio.run(
        submit(
            third.flow_run_id,
            approval_input(third.flow_run_id, variant=None, reviewer="Kim", note="wrong timing", reject=True),
        )
    )

    summary = bg.join(120)
    outcomes = {o.prospect_id: o for o in summary.outcomes}
    assert outcomes[ids[0]].outcome == "sent" and outcomes[ids[0]].variant == 1
    assert outcomes[ids[1]].outcome == "sent" and outcomes[ids[1]].variant == 3
    assert outcomes[ids[2]].outcome == "rejected" and outcomes[ids[2]].message_id is None

    with session_scope() as s:
        emails = {c.id: c.email for c in s.scalars(select(Contact).where(Contact.id.in_(ids)))}
        activities = {
            a.contact_id: a
            for a in s.scalars(
                select(Activity).where(
                    Activity.contact_id.in_(ids),
                    Activity.kind.in_([ActivityKind.OUTREACH_SENT, ActivityKind.OUTREACH_REJECTED]),
                )
            )
        }
        outbox = list(s.scalars(select(OutboxMessage)))
        drafts = {d.contact_id: d for d in s.scalars(select(OutreachDraft))}

    received = {m["To"]: m for m in smtp_sink.messages}
    assert set(received) == {emails[ids[0]], emails[ids[1]]}, "exactly the two approved prospects got mail"
    assert len(smtp_sink.messages) == 2
    v1 = first.variants[0]
    assert received[emails[ids[0]]]["Subject"] == v1["subject"]
    assert body_of(received[emails[ids[0]]]) == v1["body"].strip()
    assert received[emails[ids[1]]]["Subject"] == second.variants[2]["subject"]
    assert body_of(received[emails[ids[1]]]) == edited_body
    assert "offline" in received[emails[ids[0]]]["X-Agentflows-Model"]

    assert activities[ids[0]].kind == ActivityKind.OUTREACH_SENT
    assert activities[ids[0]].details["reviewer"] == "Dana" and activities[ids[0]].details["variant"] == 1
    assert activities[ids[1]].details["edited"] is True and activities[ids[1]].details["variant"] == 3
    assert activities[ids[2]].kind == ActivityKind.OUTREACH_REJECTED and activities[ids[2]].body == "wrong timing"
    assert len(outbox) == 2 and all(m.status == OutboxStatus.SENT for m in outbox)
    assert {m["Message-ID"] for m in smtp_sink.messages} == {m.message_id for m in outbox}
    assert [drafts[i].status for i in ids] == ["approved", "approved", "rejected"]
