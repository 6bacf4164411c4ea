"""Reviewer feedback as examples: an edited approval is given to the next run of that writer (as
the model request shows) and the new drafts follow it; selection is relevant and bounded."""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict

import pytest
from sqlalchemy import select

from agentflows.approvals import approval_input, submit
from agentflows.db import session_scope
from agentflows.db.crm import OutreachDraft
from agentflows.settings import get_settings
from agents.outreach.brief import StyleExample
from tasks.crm import load_profiles_sync
from tasks.memory import select_examples
from tests.agents.outreach_data import shipped_route
from tests.helpers import pending_by_contact, run_in_background, wait_for
from tests.providers.conftest import use_provider

OPENING = "Quick question from a fellow operations nerd."


def two_contacts_same_writer_different_accounts() -> tuple[int, int]:
    by_writer: dict[str, dict[int, int]] = defaultdict(dict)
    for cid, profile in sorted(load_profiles_sync(list(range(1, 400))).items()):
        by_writer[shipped_route(profile)].setdefault(profile.account_id, cid)
    return next(tuple(list(accounts.values())[:2]) for accounts in by_writer.values() if len(accounts) >= 2)  # type: ignore[return-value]


@pytest.mark.e2e
def test_edited_opening_becomes_the_next_runs_style(prefect_server, seeded_db, smtp_sink, fake_provider, monkeypatch):
    from flows.prospect_outreach import prospect_outreach

    use_provider(monkeypatch, fake_provider, "openai-chat")
    first, second = two_contacts_same_writer_different_accounts()

    bg = run_in_background(lambda: prospect_outreach([first]))
    pending = wait_for(lambda: bg.check() or pending_by_contact([first]), what="first approval")[first]
    drafted = pending.variants[0]["body"]
    greeting, _, rest = drafted.partition("\n\n")
    edited = (
        f"{greeting}\n\n{OPENING} Our tools might save your team a week a month.\n\n{rest.split(chr(10) * 2, 1)[1]}"
    )
    asyncio.run(
        submit(pending.flow_run_id, approval_input(pending.flow_run_id, variant=1, reviewer="Dana", body=edited))
    )
    bg.join(120)

    fake_provider.reset_stats()
    bg = run_in_background(lambda: prospect_outreach([second]))
    pending = wait_for(lambda: bg.check() or pending_by_contact([second]), what="second approval")[second]
    writer_requests = [r for r in fake_provider.requests if 'for="outreach-writer"' in r.last_user_text]
    assert len(writer_requests) == 1
    assert OPENING in writer_requests[0].last_user_text, "the edited approval was sent to the writer as an example"
    assert "Dana" in writer_requests[0].last_user_text
    with session_scope() as s:
        variants = s.scalar(select(OutreachDraft.variants).where(OutreachDraft.contact_id == second))
    assert all(OPENING in v["body"] for v in variants), "the new drafts open the way the reviewer opened"
    asyncio.run(
        submit(pending.flow_run_id, approval_input(pending.flow_run_id, variant=None, reviewer="x", reject=True))
    )
    bg.join(120)


def example(i: int, text: str) -> StyleExample:
    return StyleExample(kind="edited", ref=f"crm:activity:{i}", drafted_body=text, final_body=text + " edited")


def test_selection_prefers_similar_examples_and_respects_caps(monkeypatch, caplog):
    candidates = [
        example(1, "cold chain logistics trucks temperature Baltic freight"),
        example(2, "hospital clinicians reporting patients"),
        example(3, "freight logistics route costs shipments late"),
        example(4, "school enrolment retention"),
    ]
    chosen = select_examples(candidates, "Byrne Freight: logistics, late shipments and route costs")
    assert [c.ref for c in chosen[:2]] == ["crm:activity:3", "crm:activity:1"]
    assert len(chosen) == get_settings().memory_max_examples

    monkeypatch.setenv("AGENTFLOWS_MEMORY_MAX_CHARS", "120")
    get_settings.cache_clear()
    with caplog.at_level(logging.INFO, logger="agentflows.memory"):
        capped = select_examples(candidates, "freight logistics")
    get_settings.cache_clear()
    assert len(capped) == 1 and "memory cap hit" in caplog.text
