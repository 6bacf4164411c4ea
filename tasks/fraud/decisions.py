"""Writing decisions: the audit trail row and the claim's check status, in one transaction.

Every decision, automatic (`clear`, `review`, `block`) or human (`confirm_fraud`, `not_fraud`,
`escalate`, `timed_out`), is one `fraud_decisions` row carrying the evidence it rests on: every
signal with its scores and evidence rows, the template versions matched, the model's proposal
beside the applied decision and the hard rule that separated them, and the workspace version
(the snapshot of rules, agent files and templates) it was decided under. The row and the claim's
`claim_checks` status change commit together or not at all. The idempotency key is
(claim, flow run, action): a retried task finds its row and changes nothing; across runs the
`claim_checks` lock already prevents a second final decision.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from typing import Literal

from prefect import task
from sqlalchemy import select

from agentflows.db import session_scope
from agentflows.db.base import utcnow
from agentflows.db.fraud import CheckStatus, ClaimCheck, FraudDecision
from agents.fraud.models import CaseVerdict

HumanAction = Literal["confirm_fraud", "not_fraud", "escalate", "timed_out"]
FINAL_STATUS = {
    "clear": CheckStatus.DECIDED,
    "block": CheckStatus.DECIDED,
    "review": CheckStatus.AWAITING_REVIEW,
    "confirm_fraud": CheckStatus.DECIDED,
    "not_fraud": CheckStatus.DECIDED,
    "escalate": CheckStatus.DECIDED,
    "timed_out": CheckStatus.TIMED_OUT,
}


def verdict_digest(verdict: CaseVerdict) -> str:
    """A digest of exactly what the analyst is shown; an answer must carry the same one."""
    shown = verdict.model_dump(mode="json", exclude={"digest"})
    return hashlib.sha256(json.dumps(shown, sort_keys=True).encode()).hexdigest()[:16]


def decision_key(claim_id: int, flow_run_id: str, action: str) -> str:
    return f"fraud-check:claim-{claim_id}:run-{flow_run_id}:{action}"


def _write_sync(verdict: CaseVerdict, flow_run_id: str, action: str, actor: str, note: str = "") -> int:
    key = decision_key(verdict.claim_id, flow_run_id, action)
    with session_scope() as session:
        existing = session.scalar(select(FraudDecision.id).where(FraudDecision.idempotency_key == key))
        if existing is not None:
            return existing
        check = session.scalar(select(ClaimCheck).where(ClaimCheck.claim_id == verdict.claim_id))
        if check is None or check.flow_run_id != flow_run_id:
            owner = check.flow_run_id if check else "nobody"
            raise RuntimeError(
                f"case {verdict.claim_id} is held by flow run {owner}, not {flow_run_id}: "
                f"decision {action!r} not written"
            )
        row = FraudDecision(
            idempotency_key=key,
            claim_id=verdict.claim_id,
            flow_run_id=flow_run_id,
            action=action,
            actor=actor,
            deterministic_risk=verdict.deterministic_risk,
            model=verdict.model,
            model_decision=verdict.proposal.decision,
            model_risk=verdict.proposal.risk_score,
            rule=verdict.rule,
            rationale=verdict.proposal.rationale,
            note=note,
            evidence=[s.model_dump(mode="json") for s in verdict.signals],
            templates=[t.model_dump(mode="json") for t in verdict.templates],
            verdict_digest=verdict.digest,
            workspace_version=verdict.workspace_version or None,
        )
        session.add(row)
        check.status = FINAL_STATUS[action]
        check.risk = verdict.deterministic_risk
        check.decision = action
        check.verdict_digest = verdict.digest
        check.updated_at = utcnow()
        session.flush()
        return row.id


@task(name="record-fraud-decision", retries=2, retry_delay_seconds=2)
async def record_auto_decision(verdict: CaseVerdict, flow_run_id: str) -> int:
    """The automatic decision (clear, review or block) with all its evidence; returns the row id."""
    return await asyncio.to_thread(_write_sync, verdict, flow_run_id, verdict.decision, "auto")


@task(name="record-analyst-decision", retries=2, retry_delay_seconds=2)
async def record_human_decision(
    verdict: CaseVerdict, flow_run_id: str, action: HumanAction, analyst: str | None, note: str
) -> int:
    """The analyst's answer (or the timeout) on a reviewed case; returns the row id."""
    actor = f"analyst:{analyst}" if analyst else "timeout"
    return await asyncio.to_thread(_write_sync, verdict, flow_run_id, action, actor, note)


# --- reviews whose wait expired while suspended (see flows/approval_expiry.py) ----------------------


def awaiting_review_runs_sync() -> dict[str, int]:
    """Run id -> claim id for every case still waiting for an analyst."""
    with session_scope() as session:
        rows = session.execute(
            select(ClaimCheck.flow_run_id, ClaimCheck.claim_id).where(
                ClaimCheck.status == CheckStatus.AWAITING_REVIEW, ClaimCheck.flow_run_id.is_not(None)
            )
        ).all()
    return {str(run_id): claim_id for run_id, claim_id in rows}


@task(name="awaiting-reviews")
async def awaiting_reviews() -> dict[str, int]:
    return await asyncio.to_thread(awaiting_review_runs_sync)


def record_review_timeout_sync(claim_id: int, flow_run_id: str) -> int | None:
    """`timed_out` for a review whose run expired, with the evidence of the run's own `review` decision."""
    key = decision_key(claim_id, flow_run_id, "timed_out")
    with session_scope() as session:
        existing = session.scalar(select(FraudDecision.id).where(FraudDecision.idempotency_key == key))
        if existing is not None:
            return existing
        check = session.scalar(select(ClaimCheck).where(ClaimCheck.claim_id == claim_id))
        review = session.scalar(
            select(FraudDecision).where(FraudDecision.idempotency_key == decision_key(claim_id, flow_run_id, "review"))
        )
        if check is None or check.flow_run_id != flow_run_id or check.status != CheckStatus.AWAITING_REVIEW:
            return None  # decided or re-checked meanwhile: nothing to record
        if review is None:
            return None
        row = FraudDecision(
            idempotency_key=key,
            claim_id=claim_id,
            flow_run_id=flow_run_id,
            action="timed_out",
            actor="timeout",
            deterministic_risk=review.deterministic_risk,
            model=review.model,
            model_decision=review.model_decision,
            model_risk=review.model_risk,
            rule=review.rule,
            rationale=review.rationale,
            note="no analyst answered before the review's wait expired",
            evidence=review.evidence,
            templates=review.templates,
            verdict_digest=review.verdict_digest,
            workspace_version=review.workspace_version,
        )
        session.add(row)
        check.status, check.decision, check.updated_at = CheckStatus.TIMED_OUT, "timed_out", utcnow()
        session.flush()
        return row.id


@task(name="record-review-timeout", retries=2, retry_delay_seconds=2)
async def record_review_timeout(claim_id: int, flow_run_id: str) -> int | None:
    return await asyncio.to_thread(record_review_timeout_sync, claim_id, flow_run_id)
