"""Verdicts for a whole batch of claims without a model call per claim.

The evaluation (2,000 labelled claims) and the benchmark cannot afford seven agent runs per claim
inside Prefect, and do not need them offline: the offline agents' answers are exactly the
deterministic rules. So this path computes the six signals set-wise, applies each signal's rule
(`assess`, the offline composer's logic), asks the offline orchestrator composer for its proposal
and applies the same hard rules as `fraud-check`. With the offline model, `fraud-check` on one
claim reaches the same decision as this path does for that claim (a test checks it). Weights,
thresholds, hard rules and templates come from one workspace (the active one unless given),
exactly as a `fraud-check` run takes them from its snapshot.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from pydantic import BaseModel
from sqlalchemy import Connection, select

from agentflows.db.fraud import Claim, Order
from agentflows.fraud_templates import TemplateSet
from agents.fraud import orchestrator
from agents.fraud.models import SIGNAL_NAMES, ClaimSummary, Decision, OrchestratorInput, Signal, SignalName
from agents.fraud.rules import Calibration, bound, case_fields, deterministic_risk
from agents.workspace import Workspace
from tasks.fraud.common import aware, engine
from tasks.fraud.risk import load_calibration, templates_in_use
from tasks.fraud.signals import facts_batch, signals_from_facts
from tasks.workspace import active_workspace


@dataclass(frozen=True)
class BatchVerdict:
    claim_id: int
    signals: dict[SignalName, Signal]
    risk: float
    proposed: Decision
    decision: Decision
    rule: str

    def scores(self) -> dict[SignalName, float]:
        return {name: self.signals[name].rule_score for name in SIGNAL_NAMES}


def claim_summaries(claim_ids: Sequence[int], conn: Connection) -> dict[int, ClaimSummary]:
    """The case header for a batch of claims, in one query."""
    rows = conn.execute(
        select(
            Claim.id,
            Claim.order_id,
            Claim.customer_id,
            Claim.kind,
            Claim.message,
            Claim.amount_claimed,
            Claim.opened_at,
            Order.amount,
        )
        .join(Order, Order.id == Claim.order_id)
        .where(Claim.id.in_(list(claim_ids)))
    ).all()
    return {
        row.id: ClaimSummary(
            claim_id=row.id,
            order_id=row.order_id,
            customer_id=row.customer_id,
            kind=row.kind.value,
            message=row.message,
            amount_claimed=float(row.amount_claimed),
            order_amount=float(row.amount),
            opened_at=aware(row.opened_at),
        )
        for row in rows
    }


def verdicts_batch(
    claim_ids: Sequence[int],
    templates: TemplateSet | None = None,
    calibration: Calibration | None = None,
    workspace: Workspace | None = None,
) -> dict[int, BatchVerdict]:
    """Decisions for every claim in the batch: six set-wise signal computations, no model call.

    `templates` and `calibration` default to `workspace`'s (the active workspace unless given), with
    the settings' overrides applied (`tasks.fraud.risk`).
    """
    if templates is None or calibration is None:
        workspace = workspace or active_workspace()
    templates = templates if templates is not None else templates_in_use(workspace)  # type: ignore[arg-type]
    calibration = calibration or load_calibration(workspace=workspace)
    with engine().connect() as conn:
        facts = facts_batch(claim_ids, templates, conn)
        claims = claim_summaries(claim_ids, conn)
    return verdicts_from_facts(claim_ids, facts, claims, calibration)


def verdicts_from_facts(
    claim_ids: Sequence[int],
    facts: dict[SignalName, dict[int, BaseModel]],
    claims: dict[int, ClaimSummary],
    calibration: Calibration,
    without: SignalName | None = None,
) -> dict[int, BatchVerdict]:
    """Decisions from already computed facts (the evaluation reuses one computation many times).

    `without` removes one signal, for the ablation: its score counts as 0 and its facts are unknown
    to the hard rules, so a pattern that only it catches shows as missed.
    """
    signals = signals_from_facts(claim_ids, facts)
    verdicts: dict[int, BatchVerdict] = {}
    for cid in claim_ids:
        if cid not in claims:
            continue
        if without is not None:
            kept = signals[cid][without]
            signals[cid] = signals[cid] | {
                without: kept.model_copy(update={"score": 0.0, "rule_score": 0.0, "status": "ok", "error": None})
            }
        found = list(signals[cid].values())
        risk = deterministic_risk(found, calibration)
        proposal = orchestrator.compose_offline(
            OrchestratorInput(
                claim=claims[cid],
                signals=found,
                deterministic_risk=risk,
                review_threshold=calibration.review_threshold,
                block_threshold=calibration.block_threshold,
                strong_signal=calibration.strong_signal,
                block_min_strong=calibration.block_min_strong,
            ).model_dump(mode="json")
        )
        known = {name: facts[name][cid] for name in SIGNAL_NAMES if cid in facts[name] and name != without}
        case = case_fields(claims[cid], known)
        decision, rule = bound(proposal.decision, risk, found, calibration, case)
        verdicts[cid] = BatchVerdict(cid, signals[cid], risk, proposal.decision, decision, rule)
    return verdicts
