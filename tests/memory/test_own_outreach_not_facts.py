"""Our own earlier emails are memory, not facts: after an approved (or rejected) outreach, the next
brief for that account shows it under prior outreach only, and no fact quotes its body back."""

from __future__ import annotations

import asyncio

from agentflows.db.crm import ActivityKind
from agents.outreach.brief import ResearchInput, WebFindings
from tasks.crm import load_prospects_sync, pick_demo_prospects, record_activity_sync
from tasks.generation import research
from tests.agents.outreach_data import shipped_workspace

SENT_BODY = "Hi Kim,\n\nOur weekly planning review could shorten your month-end close.\n\nSam"


def test_a_sent_email_is_prior_outreach_not_a_fact(seeded_db: str):
    contact = pick_demo_prospects()[0]
    account = load_prospects_sync([contact])[contact].profile.account_id
    sent = record_activity_sync(
        idempotency_key="test-own-outreach-sent",
        account_id=account,
        contact_id=contact,
        kind=ActivityKind.OUTREACH_SENT,
        subject="A weekly planning review",
        body=SENT_BODY,
        details={"angle": "month-end close", "reviewer": "Dana"},
    )
    rejected = record_activity_sync(
        idempotency_key="test-own-outreach-rejected",
        account_id=account,
        contact_id=contact,
        kind=ActivityKind.OUTREACH_REJECTED,
        subject="Rejected draft",
        body="A rejected draft body that must not become a fact either.",
        details={"angles": ["cost"], "note": "too pushy"},
    )
    record = load_prospects_sync([contact])[contact]

    history_refs = {h.ref for h in record.history}
    assert f"crm:activity:{sent}" not in history_refs and f"crm:activity:{rejected}" not in history_refs
    assert any(h.ref.startswith("crm:activity:") for h in record.history), "other CRM activities stay"
    assert [o.ref for o in record.prior_outreach] == [f"crm:activity:{rejected}", f"crm:activity:{sent}"]

    brief = asyncio.run(
        research(
            ResearchInput(
                prospect=record.profile,
                history=record.history,
                web=WebFindings(url="https://x.example/", available=False, error="timed out"),
                prior_outreach=record.prior_outreach,
            ),
            shipped_workspace(),
        )
    )
    own = {f"crm:activity:{sent}", f"crm:activity:{rejected}"}
    assert not [f for f in brief.facts if f.source in own or "outreach" in f.text.lower()]
    assert not any("month-end close" in f.text and "weekly planning" in f.text for f in brief.facts)
    assert any("sent" in line and "month-end close" in line for line in brief.prior_outreach)
    assert any("rejected" in line and "too pushy" in line for line in brief.prior_outreach)
