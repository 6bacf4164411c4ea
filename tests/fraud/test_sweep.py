"""fraud-sweep: undecided claims only, one fraud-check run each, a bounded number working at once,
and a run paused for its analyst does not hold a slot (the rest of the sweep goes on)."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import insert, select

from agentflows.db import session_scope
from agentflows.db.fraud import CheckStatus, Claim, ClaimCheck
from agentflows.settings import get_settings
from tasks.fraud.batch import verdicts_batch
from tasks.fraud.review import review_input, submit_review
from tests.fraud.test_fraud_check_e2e import cases_by_decision, check_row
from tests.helpers import run_in_background, wait_for

pytestmark = pytest.mark.e2e


def test_sweep_with_one_slot_is_not_stalled_by_a_paused_review(
    prefect_server, market_db, template_dir, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    from flows.fraud_sweep import fraud_sweep

    monkeypatch.setenv("AGENTFLOWS_FRAUD_SWEEP_CONCURRENCY", "1")
    get_settings.cache_clear()
    groups = cases_by_decision()
    review = groups["review"][0]
    after = verdicts_batch(range(review + 1, review + 40))
    later_clear = [c for c, v in sorted(after.items()) if v.decision == "clear"][:3]
    earlier_failed = [c for c in groups["clear"] if c < review][:1]
    assert len(later_clear) == 3 and len(earlier_failed) == 1
    chosen = {review, *later_clear, *earlier_failed}
    with session_scope() as session:  # everything else counts as checked already
        others = [cid for cid in session.scalars(select(Claim.id)) if cid not in chosen]
        session.execute(
            insert(ClaimCheck), [{"claim_id": c, "status": CheckStatus.DECIDED, "decision": "clear"} for c in others]
        )
        # a check that crashed earlier is picked up again
        session.execute(insert(ClaimCheck), [{"claim_id": earlier_failed[0], "status": CheckStatus.FAILED}])

    bg = run_in_background(lambda: fraud_sweep(limit=50))

    def rest_decided() -> bool:
        bg.check()
        return all((r := check_row(c)) is not None and r.status == CheckStatus.DECIDED for c in later_clear)

    wait_for(rest_decided, timeout=120, what="the claims after the paused one to be decided")
    assert check_row(review).status == CheckStatus.AWAITING_REVIEW  # type: ignore[union-attr]
    asyncio.run(submit_review(*review_input(review, "confirm fraud", "Dana")))
    summary = bg.join(90)

    assert summary.selected == 5
    assert summary.counts == {"cleared": 4, "confirmed_fraud": 1}
    assert {i.case_id for i in summary.items} == chosen


def test_sweep_of_nothing_is_empty(prefect_server, market_db, template_dir) -> None:  # type: ignore[no-untyped-def]
    from datetime import UTC, datetime

    from flows.fraud_sweep import fraud_sweep

    summary = asyncio.run(fraud_sweep(since=datetime(2030, 1, 1, tzinfo=UTC)))
    assert summary.selected == 0 and summary.items == []
