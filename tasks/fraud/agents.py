"""Running the fraud agents for one case: six signal sub-agents, then the orchestrator, then the rules.

Each sub-agent is a facts task (SQL, set-wise code called with one claim) followed by one durable
agent run that interprets the facts. A sub-agent that fails (query error, model give-up) returns a
`failed` Signal with the reason: it shows in the signal table and forbids an automatic clear; it is
never silently treated as harmless. The orchestrator's proposal is bounded by `rules.bound`.

Everything a team configures comes from one workspace, the run's (`tasks.workspace`): each agent's
instructions, model and settings from its `agents/<name>.yaml`, the weights, thresholds and hard
rules from `fraud/rules.yaml`, the templates from `fraud/templates/`. A caller without a run (a
test, a script) gets the active workspace.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

from prefect import get_run_logger, task
from pydantic import BaseModel
from pydantic_ai.exceptions import AgentRunError

from agents.durable import configured_model
from agents.fraud import orchestrator
from agents.fraud.conversation import LOW
from agents.fraud.models import (
    SIGNAL_NAMES,
    CaseVerdict,
    ClaimSummary,
    ConversationFacts,
    OrchestratorInput,
    Signal,
    SignalInput,
    SignalName,
    Verdict,
)
from agents.fraud.rules import bound, case_fields, deterministic_risk
from agents.prompting import render_prompt
from agents.workspace import Workspace
from tasks.fraud.decisions import verdict_digest
from tasks.fraud.risk import load_calibration, templates_in_use
from tasks.fraud.signals import SIGNALS, compute_facts, rule_signal
from tasks.generation import GenerationError, run_agent
from tasks.workspace import active_workspace, workspace_at

SignalFacts = Mapping[SignalName, BaseModel]
"""The facts each signal computed for one case (a failed signal is missing): what hard rules read."""

SIGNAL_ROLE = "fraud_signals"  # AGENTFLOWS_AGENT_MODELS__FRAUD_SIGNALS picks the six signal agents' model
ORCHESTRATOR_ROLE = "fraud_orchestrator"  # AGENTFLOWS_AGENT_MODELS__FRAUD_ORCHESTRATOR


@task(name="signal-facts", task_run_name="facts-{name}", retries=1, retry_delay_seconds=1)
async def signal_facts(name: SignalName, claim_id: int, workspace_version: str) -> BaseModel:
    """One signal's facts for one claim, by the same set-wise code the batch paths use.

    The conversation signal compares with the templates of workspace `workspace_version` (or
    `AGENTFLOWS_FRAUD_TEMPLATES_DIR`); the version is part of the task's cache key.
    """
    templates = None
    if name == "conversation":
        templates = templates_in_use(await asyncio.to_thread(workspace_at, workspace_version))
    facts = await asyncio.to_thread(compute_facts, name, [claim_id], templates)
    if claim_id not in facts:
        raise LookupError(f"signal {name!r} found no data for claim {claim_id}")
    return facts[claim_id]


async def run_signal(name: SignalName, claim: ClaimSummary, workspace: Workspace) -> tuple[Signal, BaseModel | None]:
    """One sub-agent: facts, rule score, then the agent's reading. Failures become failed signals."""
    logger = get_run_logger()
    try:
        facts = await signal_facts(name, claim.claim_id, workspace.version)
    except Exception as exc:  # shown as a failed signal in the verdict; the case cannot be cleared
        logger.warning("signal %s failed to compute: %s", name, exc)
        return Signal(
            name=name,
            status="failed",
            score=0,
            rule_score=0,
            summary="could not be computed",
            error=f"{type(exc).__name__}: {exc}"[:500],
        ), None
    rule = rule_signal(name, facts)
    module = SIGNALS[name].agent_module
    file = workspace.agent(module.NAME)
    payload = SignalInput(
        claim=claim, facts=facts.model_dump(mode="json"), rule_score=rule.rule_score, rule_summary=rule.summary
    )
    prompt = render_prompt(f"Assess the {name.replace('_', ' ')} signal of this claim.", module.NAME, "signal", payload)
    try:
        report = await run_agent(
            module.agent(file, configured_model(SIGNAL_ROLE, file.model)), prompt, deps=tuple(sorted(facts.refs()))
        )
    except (GenerationError, AgentRunError) as exc:  # gave up, or the provider failed after its retries
        logger.warning("signal agent %s failed: %s", module.NAME, exc)
        return rule.model_copy(update={"status": "failed", "error": str(exc)[:500], "score": rule.rule_score}), facts
    return Signal(
        name=name, score=report.score, rule_score=rule.rule_score, evidence=report.evidence, summary=report.summary
    ), facts


async def run_signals(
    claim: ClaimSummary, workspace: Workspace | None = None
) -> tuple[list[Signal], dict[SignalName, BaseModel]]:
    """The six sub-agents, concurrently; their signals and the facts of those that could be computed."""
    workspace = workspace or await asyncio.to_thread(active_workspace)
    results = await asyncio.gather(*(run_signal(name, claim, workspace) for name in SIGNAL_NAMES))
    facts = {name: found for name, (_, found) in zip(SIGNAL_NAMES, results, strict=True) if found is not None}
    return [signal for signal, _ in results], facts


async def judge(
    claim: ClaimSummary,
    signals: list[Signal],
    facts: SignalFacts | None = None,
    workspace: Workspace | None = None,
) -> CaseVerdict:
    """The orchestrator's proposal, bounded by the hard rules (rules 1-3 and the workspace's); what the flow applies."""
    workspace = workspace or await asyncio.to_thread(active_workspace)
    calibration = load_calibration(workspace=workspace)
    risk = deterministic_risk(signals, calibration)
    file = workspace.agent(orchestrator.NAME)
    spec = configured_model(ORCHESTRATOR_ROLE, file.model)
    data = OrchestratorInput(
        claim=claim,
        signals=signals,
        deterministic_risk=risk,
        review_threshold=calibration.review_threshold,
        block_threshold=calibration.block_threshold,
        strong_signal=calibration.strong_signal,
        block_min_strong=calibration.block_min_strong,
    )
    prompt = render_prompt("Combine the signals into a verdict.", orchestrator.NAME, "case", data)
    refs = tuple(sorted({e.ref for s in signals for e in s.evidence}))
    try:
        proposal = await run_agent(orchestrator.orchestrator(file, spec), prompt, deps=refs)
        decision, rule = bound(proposal.decision, risk, signals, calibration, case_fields(claim, facts))
    except (GenerationError, AgentRunError) as exc:
        get_run_logger().warning("orchestrator failed: %s", exc)
        proposal = Verdict(risk_score=risk, decision="review", rationale=f"The orchestrator failed: {exc}"[:2000])
        decision, rule = "review", "rule 0: the orchestrator gave no valid verdict; an analyst decides"
    conversation = (facts or {}).get("conversation")
    templates = (
        [m for m in conversation.matches if m.similarity >= LOW] if isinstance(conversation, ConversationFacts) else []
    )
    verdict = CaseVerdict(
        claim_id=claim.claim_id,
        decision=decision,
        deterministic_risk=risk,
        proposal=proposal,
        model=spec,
        rule=rule,
        signals=signals,
        templates=templates,
        workspace_version=workspace.version,
        rules_version=workspace.fraud.rules_version,
        digest="",
    )
    return verdict.model_copy(update={"digest": verdict_digest(verdict)})
