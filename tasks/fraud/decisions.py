"""Writing decisions: the audit trail row and the claim's check status, in one transaction.

Every decision, automatic (`clear`, `review`, `block`) or human (`confirm_fraud`, `not_fraud`,
`escalate`, `timed_out`), is one `fraud_decisions` row carrying the evidence it rests on: every
signal with its scores and evidence rows, the template versions matched, the model's proposal
beside the applied decision and the hard rule that separated them. The row and the claim's
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
