"""Orchestrator: combines the six signals into a `Verdict` (risk, clear/review/block, cited rationale).

The model only proposes. The flow bounds the proposal with hard rules (`agents.fraud.rules.bound`):
it can never clear a case whose deterministic risk is at or above the review threshold, nor block
on its own. The rationale must cite evidence refs that the signals actually produced.
"""

from __future__ import annotations

from typing import Any

from pydantic_ai import Agent, ModelRetry, RunContext
from pydantic_ai.models import Model

from agents import offline
from agents.durable import durable_agent, per_event_loop
from agents.fraud.models import Decision, OrchestratorInput, Verdict
from agents.fraud.rules import Calibration, rule_decision

NAME = "fraud-orchestrator"
INSTRUCTIONS = """
You are a marketplace fraud analyst's assistant. You get one claim, six signal reports (address,
return distance, customer history, tracking, payment, conversation), each with a score, a
deterministic rule score, evidence refs and a summary, and the deterministic risk with the review
and block thresholds. Decide: `clear` (pay the claim), `review` (an analyst must decide) or `block`
(deny and flag the account). No single signal is enough: look for independent signals that agree,
and for benign explanations (moved house, household, traveller, genuinely lost parcel). A failed
signal means missing evidence, never innocence. Give an overall risk score and a rationale that
cites evidence refs in brackets, e.g. [address:12], and list those refs in evidence_refs.
Cases at or above the review threshold cannot be cleared; blocking needs strong, agreeing signals.
"""


def compose_offline(payload: dict[str, Any]) -> Verdict:
    """The offline verdict: the rules' decision and a rationale from the strongest signals."""
    data = OrchestratorInput.model_validate(payload)
    thresholds = Calibration(
        weights={},  # type: ignore[arg-type]  (only the thresholds are used)
        bias=0.0,
        review_threshold=data.review_threshold,
        block_threshold=data.block_threshold,
        strong_signal=data.strong_signal,
        block_min_strong=data.block_min_strong,
    )
    decision: Decision = rule_decision(data.deterministic_risk, data.signals, thresholds)
    ranked = sorted((s for s in data.signals if s.status == "ok"), key=lambda s: -s.rule_score)
    cited = [s for s in ranked if s.rule_score >= 0.3][:3] or ranked[:1]
    refs = [e.ref for s in cited for e in s.evidence[:2]]
    reasons = "; ".join(
        f"{s.name.replace('_', ' ')} {s.rule_score:.2f}: {s.summary.removeprefix('[offline] ').rstrip('.')}"
        + (f" [{s.evidence[0].ref}]" if s.evidence else "")
        for s in cited
    )
    failed = [s.name for s in data.signals if s.status == "failed"]
    rationale = (
        f"{offline.OFFLINE_MARK} Deterministic risk {data.deterministic_risk:.2f} "
        f"(review at {data.review_threshold:.2f}, block at {data.block_threshold:.2f}). Strongest signals: {reasons}."
        + (f" Failed signals: {', '.join(failed)}." if failed else "")
    )
    return Verdict(risk_score=data.deterministic_risk, decision=decision, rationale=rationale, evidence_refs=refs)


def orchestrator_agent(model: Model | str) -> Agent[frozenset[str], Verdict]:
    """The orchestrator for `model`; its rationale may cite only refs the signals produced (the deps)."""
    agent: Agent[Any, Verdict] = durable_agent(
        name=NAME, model=model, output_type=Verdict, instructions=INSTRUCTIONS, deps_type=frozenset
    )

    @agent.output_validator
    def _cites_signal_evidence(ctx: RunContext[frozenset[str]], verdict: Verdict) -> Verdict:
        unknown = sorted(set(verdict.evidence_refs) - ctx.deps)
        if unknown:
            raise ModelRetry(f"evidence_refs not produced by any signal: {unknown}; choose from {sorted(ctx.deps)}")
        return verdict

    return agent


@per_event_loop
def orchestrator(model: str) -> Agent[frozenset[str], Verdict]:
    return orchestrator_agent(model)
