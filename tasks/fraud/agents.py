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
from dataclasses import dataclass

from prefect import get_run_logger, task
from pydantic import BaseModel
from pydantic_ai.exceptions import AgentRunError

from agentflows.prompt_caps import capped_fields
from agentflows.settings import get_settings
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
from agents.metered import check_prompts_budget
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


def prompt_claim(claim: ClaimSummary) -> ClaimSummary:
    """The claim as an agent's prompt carries it: the customer's message capped and marked
    (`prompt_cap_claim_message`). The one place a claim enters a fraud agent's input; rules read the full one."""
    return capped_fields(claim, {"message": get_settings().prompt_cap_claim_message})


@dataclass(frozen=True)
class _Prepared:
    """One signal before its agent runs: the facts, the rule's reading and the prompt; or the failed signal."""

    name: SignalName
    facts: BaseModel | None = None
    rule: Signal | None = None
    prompt: str = ""
    failed: Signal | None = None


async def _prepare_signal(name: SignalName, claim: ClaimSummary, workspace: Workspace) -> _Prepared:
    try:
        facts = await signal_facts(name, claim.claim_id, workspace.version)
    except Exception as exc:  # shown as a failed signal in the verdict; the case cannot be cleared
        get_run_logger().warning("signal %s failed to compute: %s", name, exc)
        failed = Signal(
            name=name,
            status="failed",
            score=0,
            rule_score=0,
            summary="could not be computed",
            error=f"{type(exc).__name__}: {exc}"[:500],
        )
        return _Prepared(name, failed=failed)
    rule = rule_signal(name, facts)
    module = SIGNALS[name].agent_module
    payload = SignalInput(
        claim=prompt_claim(claim),
        facts=facts.model_dump(mode="json"),
        rule_score=rule.rule_score,
        rule_summary=rule.summary,
    )
    prompt = render_prompt(f"Assess the {name.replace('_', ' ')} signal of this claim.", module.NAME, "signal", payload)
    return _Prepared(name, facts=facts, rule=rule, prompt=prompt)


async def _interpret(prepared: _Prepared, workspace: Workspace) -> tuple[Signal, BaseModel | None]:
    if prepared.failed is not None:
        return prepared.failed, None
    assert prepared.rule is not None and prepared.facts is not None  # set together by `_prepare_signal`
    name, facts, rule = prepared.name, prepared.facts, prepared.rule
    module = SIGNALS[name].agent_module
    file = workspace.agent(module.NAME)
    try:
        report = await run_agent(
            module.agent(file, configured_model(SIGNAL_ROLE, file.model)),
            prepared.prompt,
            deps=tuple(sorted(facts.refs())),  # type: ignore[attr-defined]
        )
    except (GenerationError, AgentRunError) as exc:  # gave up, or the provider failed after its retries
        get_run_logger().warning("signal agent %s failed: %s", module.NAME, exc)
        return rule.model_copy(update={"status": "failed", "error": str(exc)[:500], "score": rule.rule_score}), facts
    return Signal(
        name=name, score=report.score, rule_score=rule.rule_score, evidence=report.evidence, summary=report.summary
    ), facts


async def run_signal(name: SignalName, claim: ClaimSummary, workspace: Workspace) -> tuple[Signal, BaseModel | None]:
    """One sub-agent: facts, rule score, then the agent's reading. Failures become failed signals."""
    return await _interpret(await _prepare_signal(name, claim, workspace), workspace)


ORCHESTRATOR_OVERHEAD_CHARS = 6 * 1500
"""The orchestrator's prompt beyond the claim, for the estimate: six signals of evidence and summary."""


async def run_signals(
    claim: ClaimSummary, workspace: Workspace | None = None
) -> tuple[list[Signal], dict[SignalName, BaseModel]]:
    """The six sub-agents, concurrently; their signals and the facts of those that could be computed.

    Before any of the seven agents' requests is sent, the check's estimated input (six signal prompts and
    the orchestrator's) is held against the run's token budget (`check_prompts_budget`): an oversized
    check stops whole, with the reason, instead of sending six requests and failing at the seventh.
    """
    workspace = workspace or await asyncio.to_thread(active_workspace)
    prepared = await asyncio.gather(*(_prepare_signal(name, claim, workspace) for name in SIGNAL_NAMES))
    orchestrator_estimate = prompt_claim(claim).model_dump_json() + " " * ORCHESTRATOR_OVERHEAD_CHARS
    await check_prompts_budget(
        f"fraud check of claim {claim.claim_id}", [p.prompt for p in prepared if p.prompt] + [orchestrator_estimate]
    )
    results = await asyncio.gather(*(_interpret(p, workspace) for p in prepared))
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
        claim=prompt_claim(claim),
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
