"""Outreach on imported data: an imported contact is drafted, approved and sent like a seeded one.

Real Prefect server, real SQLite CRM filled only by `agentflows import crm` (differently named columns),
real SMTP sink, offline model. The drafts' brief is built from the imported activity history.
"""

from __future__ import annotations

import asyncio
import json

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from agentflows.approvals import approval_input, submit
from agentflows.cli import app
from agentflows.db import session_scope
from agentflows.db.crm import Activity, ActivityKind, Contact, OutboxMessage, OutreachDraft
from tests.helpers import pending_by_contact, run_in_background, wait_for

pytestmark = pytest.mark.e2e


def test_an_imported_contact_is_drafted_approved_and_sent(prefect_server, empty_db, smtp_sink, export):
    from flows.prospect_outreach import prospect_outreach

    done = CliRunner().invoke(app, ["import", "crm", "--mapping", str(export.mapping)])
    assert done.exit_code == 0, done.output
    with session_scope() as s:
        ada = s.scalar(select(Contact).where(Contact.external_id == "P1"))
        contact_id, email = ada.id, ada.email
    assert email == "ada.lovelace@acme-robotics.test"

    bg = run_in_background(lambda: prospect_outreach([contact_id]))
    pending = wait_for(lambda: bg.check() or pending_by_contact([contact_id]), what="the imported contact's approval")
    draft = pending[contact_id]
    with session_scope() as s:
        brief = s.scalar(select(OutreachDraft.brief).where(OutreachDraft.contact_id == contact_id))
    assert "month-end close" in json.dumps(brief), "the brief uses the imported call note"

    asyncio.run(submit(draft.flow_run_id, approval_input(draft.flow_run_id, variant=1, reviewer="Dana")))
    summary = bg.join(120)
    assert [(o.prospect_id, o.outcome) for o in summary.outcomes] == [(contact_id, "sent")]

    assert [m["To"] for m in smtp_sink.messages] == [email]
    assert smtp_sink.messages[0]["Subject"] == draft.variants[0]["subject"]
    with session_scope() as s:
        sent = s.scalar(
            select(Activity).where(Activity.contact_id == contact_id, Activity.kind == ActivityKind.OUTREACH_SENT)
        )
        assert sent is not None and sent.details["reviewer"] == "Dana"
        assert len(list(s.scalars(select(OutboxMessage)))) == 1

    # Importing the same export again leaves the outreach record alone (it has no external id).
    again = CliRunner().invoke(app, ["import", "crm", "--mapping", str(export.mapping)])
    assert again.exit_code == 0, again.output
    with session_scope() as s:
        kinds = sorted(a.kind for a in s.scalars(select(Activity).where(Activity.contact_id == contact_id)))
    assert kinds == [ActivityKind.CALL, ActivityKind.OUTREACH_SENT]
