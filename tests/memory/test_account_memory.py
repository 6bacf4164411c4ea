"""Account memory: a second outreach at the same account knows the first one and does not reuse
its angle. Memory is read from the CRM's activity history, not kept in process memory."""

from __future__ import annotations

from collections import defaultdict

import pytest
from sqlalchemy import select

from agentflows.db import session_scope
from agentflows.db.crm import OutreachDraft
from tasks.crm import load_profiles_sync
from tests.agents.outreach_data import shipped_route
from tests.helpers import pending_by_contact, run_in_background, wait_for

pytestmark = pytest.mark.e2e


def two_contacts_one_account_same_writer() -> tuple[int, int]:
    groups: dict[tuple[int, str], list[int]] = defaultdict(list)
    for cid, profile in sorted(load_profiles_sync(list(range(1, 400))).items()):
        groups[(profile.account_id, shipped_route(profile))].append(cid)
    return next(tuple(ids[:2]) for ids in groups.values() if len(ids) >= 2)  # type: ignore[return-value]


def run_and_approve(contact: int, variant: int) -> dict:
    import asyncio

    from agentflows.approvals import approval_input, submit
    from flows.prospect_outreach import prospect_outreach

    bg = run_in_background(lambda: prospect_outreach([contact]))
    pending = wait_for(lambda: bg.check() or pending_by_contact([contact]), what="a paused approval run")[contact]
    asyncio.run(submit(pending.flow_run_id, approval_input(pending.flow_run_id, variant=variant, reviewer="Rep")))
    bg.join(120)
    with session_scope() as s:
        draft = s.scalar(select(OutreachDraft).where(OutreachDraft.contact_id == contact))
    return {"variants": draft.variants, "brief": draft.brief}


def test_second_contact_at_an_account_gets_a_new_angle(prefect_server, seeded_db, smtp_sink):
    first, second = two_contacts_one_account_same_writer()
    one = run_and_approve(first, variant=1)
    sent_angle = one["variants"][0]["angle"]
    assert one["brief"]["prior_outreach"] == [] or all(
        sent_angle not in line for line in one["brief"]["prior_outreach"]
    )

    two = run_and_approve(second, variant=1)
    prior = two["brief"]["prior_outreach"]
    assert any("sent to" in line and sent_angle in line for line in prior), prior
    assert sent_angle not in {v["angle"] for v in two["variants"]}, "the angle already used is not pitched again"
    assert len(smtp_sink.messages) == 2


def test_memory_show_prints_what_the_brief_gets_and_forget_prunes_it(seeded_db):
    from typer.testing import CliRunner

    from agentflows.cli import app
    from agentflows.db.crm import Activity, ActivityKind, Contact
    from tasks.memory import prior_outreach_sync

    with session_scope() as s:
        contact = s.scalar(select(Contact).order_by(Contact.id).limit(1))
        activity = Activity(
            account_id=contact.account_id,
            contact_id=contact.id,
            kind=ActivityKind.OUTREACH_SENT,
            subject="Hello",
            body="b",
            details={"angle": "peer proof", "writer": "x", "note": ""},
        )
        s.add(activity)
        s.flush()
        activity_id, account_id = activity.id, contact.account_id
    shown = CliRunner().invoke(app, ["memory", "show", "--account", str(account_id)], env={"COLUMNS": "200"})
    assert shown.exit_code == 0 and "peer proof" in shown.output and "will not reuse: peer proof" in shown.output
    assert [o.angles for o in prior_outreach_sync([account_id])[account_id]] == [["peer proof"]]

    forgot = CliRunner().invoke(app, ["memory", "forget", "--activity", str(activity_id)])
    assert forgot.exit_code == 0, forgot.output
    assert prior_outreach_sync([account_id]).get(account_id, []) == []
    refused = CliRunner().invoke(app, ["memory", "forget", "--activity", "999999"])
    assert refused.exit_code == 2 and "not an outreach outcome" in refused.output
