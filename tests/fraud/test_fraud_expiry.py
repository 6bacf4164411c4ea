"""approval-expiry for fraud reviews: a suspended review whose wait expired is recorded as `timed_out`
with the evidence of its automatic `review` decision; a review still waiting is left alone."""

from __future__ import annotations

import asyncio

import pytest
from prefect.states import Failed, Suspended
from sqlalchemy import select

from agentflows.db import session_scope
from tasks.waits import EXPIRED_PAUSE
from tests.flows.test_approval_expiry import approval_run_in

pytestmark = pytest.mark.e2e


def test_an_expired_fraud_review_is_recorded_with_its_evidence(prefect_server, market_db):
    from agentflows.db.fraud import CheckStatus, ClaimCheck, FraudDecision
    from flows.approval_expiry import approval_expiry
    from flows.fraud_check import fraud_check
    from tasks.fraud.decisions import decision_key

    expired_run = asyncio.run(approval_run_in(Failed(message=f"The flow was {EXPIRED_PAUSE}."), fraud_check))
    waiting_run = asyncio.run(approval_run_in(Suspended(timeout_seconds=3600), fraud_check))
    evidence = [{"signal": "address", "score": 0.9}]
    with session_scope() as s:
        for claim, run in ((1, expired_run), (2, waiting_run)):
            s.add(ClaimCheck(claim_id=claim, flow_run_id=run, status=CheckStatus.AWAITING_REVIEW))
            s.add(
                FraudDecision(
                    idempotency_key=decision_key(claim, run, "review"),
                    claim_id=claim,
                    flow_run_id=run,
                    action="review",
                    actor="auto",
                    deterministic_risk=0.7,
                    model="offline",
                    evidence=evidence,
                    verdict_digest="d" * 16,
                )
            )

    assert asyncio.run(approval_expiry()).claims == [1]
    assert asyncio.run(approval_expiry()).claims == [], "recorded once"
    with session_scope() as s:
        checks = {c.claim_id: c.status for c in s.scalars(select(ClaimCheck))}
        assert checks == {1: CheckStatus.TIMED_OUT, 2: CheckStatus.AWAITING_REVIEW}
        timed_out = s.scalar(select(FraudDecision).where(FraudDecision.action == "timed_out"))
        assert (timed_out.claim_id, timed_out.actor, timed_out.evidence) == (1, "timeout", evidence)
