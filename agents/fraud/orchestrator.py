"""Orchestrator: combines the six signals into a `Verdict` (risk, clear/review/block, cited rationale).

The model only proposes. The flow bounds the proposal with hard rules (`agents.fraud.rules.bound`):
it can never clear a case whose deterministic risk is at or above the review threshold, nor one a
fraud team's hard rule holds for, nor block on its own. The rationale must cite evidence refs that
the signals actually produced. What the model is told, its model and settings are the workspace's
`agents/fraud-orchestrator.yaml`; the `Verdict` it must answer with is fixed here.
"""

from __future__ import annotations

from typing import Any

from pydantic_ai import Agent, ModelRetry, RunContext
from pydantic_ai.models import Model

from agents import offline
from agents.durable import durable_agent, per_event_loop
from agents.fraud.common import shipped_agent_file
from agents.fraud.models import Decision, OrchestratorInput, Verdict
from agents.fraud.rules import Calibration, rule_decision
from agents.workspace.agent_files import AgentFile

NAME = "fraud-orchestrator"


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


def orchestrator_agent(model: Model | str, file: AgentFile | None = None) -> Agent[tuple[str, ...], Verdict]:
    """The orchestrator for `model` and its workspace file (default: the shipped one, for tests on a test
    model); its rationale may cite only refs the signals produced (the deps)."""
    file = file or shipped_agent_file(NAME)
    agent: Agent[Any, Verdict] = durable_agent(
        name=NAME,
        model=model,
        output_type=Verdict,
        instructions=file.instructions,
        deps_type=tuple,
        model_settings=file.settings_dict,
        output_retries=file.output_retries,
    )

    @agent.output_validator
    def _cites_signal_evidence(ctx: RunContext[tuple[str, ...]], verdict: Verdict) -> Verdict:
        unknown = sorted(set(verdict.evidence_refs) - set(ctx.deps))
        if unknown:
            raise ModelRetry(f"evidence_refs not produced by any signal: {unknown}; choose from {sorted(ctx.deps)}")
        return verdict

    return agent


@per_event_loop
def orchestrator(file: AgentFile, model: str) -> Agent[tuple[str, ...], Verdict]:
    """The orchestrator for the run's workspace file and model (a changed file is a new cache key: a new agent)."""
    return orchestrator_agent(model, file)
