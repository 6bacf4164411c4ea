"""Fraud feedback: an analyst's "confirmed fraud" on a case that matched no template proposes a
new, anonymised template file that stays inactive until a person activates it."""

from __future__ import annotations

import asyncio

import pytest

from agentflows.fraud_templates import anonymise, load_templates
from tasks.fraud.batch import verdicts_batch
from tasks.fraud.evaluation import labelled
from tasks.fraud.review import review_input, submit_review
from tests.fraud.test_fraud_check_e2e import check_row
from tests.helpers import flow_run_state, run_in_background, wait_for

pytestmark = pytest.mark.e2e


def test_anonymise_strips_contact_details_and_numbers():
    text = "Order 4471982 never came!! call +1 (415) 555-0199 or mail jo.doe@example.com, see https://x.io/p"
    assert anonymise(text) == "Order [number] never came!! call [phone] or mail [email], see [url]"


def test_confirmed_fraud_without_template_match_proposes_an_inactive_template(prefect_server, market_db, template_dir):
    from flows.fraud_check import fraud_check

    # The team's templates know only one tactic: most risky claims match none of them.
    for path in template_dir.glob("*.md"):
        if path.name != "empty-box.md":
            path.unlink()
    labels = labelled("all")
    verdicts = verdicts_batch(sorted(labels)[:600])
    case = next(
        c for c, v in sorted(verdicts.items()) if v.decision == "review" and v.signals["conversation"].rule_score == 0
    )
    active_before = {t.name for t in load_templates().templates}

    bg = run_in_background(lambda: fraud_check(case))
    wait_for(
        lambda: bg.check() or ((row := check_row(case)) and flow_run_state(row.flow_run_id) == "PAUSED"),
        what="a paused review",
    )
    run_id, answer = review_input(case, "confirm fraud", "Ana", note="new refund script")
    asyncio.run(submit_review(run_id, answer))
    bg.join(120)

    proposed = template_dir / "proposed" / f"case-{case}.md"
    assert proposed.exists()
    text = proposed.read_text()
    assert "status: proposed" in text and "confirmed as fraud by Ana: new refund script" in text
    assert {t.name for t in load_templates().templates} == active_before, "a proposal is not active"
    from tasks.fraud.evaluation import analyst_feedback_sync

    assert analyst_feedback_sync() == {"confirm_fraud": 1}, "the eval reports how analysts decided review cases"
