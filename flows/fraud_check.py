"""Fraud check: one claim -> six signal sub-agents -> orchestrator verdict -> cleared, blocked or an analyst decides.

Run it: `agentflows run fraud-check --case 42`. A risky case pauses with a review form in the
Prefect UI ("Resume" on the run page): the signal table and the rationale are shown above the form.

The story of one case:
  0. take the workspace snapshot (agent files, fraud/rules.yaml, templates) the whole run uses:
     the one a sweep passed in, else the active one (`use_workspace`)
  1. load the claim; unknown ids fail here, before anything is written
  2. take the claim's `claim_checks` row (the lock): a claim being checked elsewhere is skipped,
     a claim already decided is an error naming the decision
  3. six sub-agents run concurrently, each computing its facts from SQL and interpreting them:
     address, return distance, customer, tracking, payment, conversation (vs the templates)
  4. the orchestrator proposes a verdict; hard rules bound it (it can never clear a case whose
     deterministic risk reaches the review threshold or that a fraud team's hard rule holds for,
     nor block on its own)
  5. clear / block: recorded automatically with the evidence, done
     review: recorded, shown as a markdown artifact, and the run pauses for an analyst:
     confirm fraud / not fraud / escalate, or `timed_out` after `fraud_review_timeout_s`
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Literal

from prefect import flow, get_run_logger
from prefect.artifacts import acreate_markdown_artifact
from prefect.runtime import flow_run as current_flow_run
from pydantic import BaseModel, Field

from agentflows.forms import FRAUD_REVIEW_PAUSE, FraudReview, pause_key
from agentflows.fraud_templates import propose_template
from agentflows.human_input import AnswerTimeout, wait_for_answer
from agentflows.markdown import Abbrev, Markdown, md_cell, md_code, md_link, md_quote, md_table, md_text
from agentflows.prefect_env import artifact_url, flow_run_url
from agentflows.settings import get_settings
from agents.fraud.models import CaseVerdict, ClaimSummary, Decision
from tasks.fraud.agents import judge, run_signals
from tasks.fraud.cases import CaseBusyError, acquire_check, load_case, mark_failed_sync
from tasks.fraud.decisions import HumanAction, record_auto_decision, record_human_decision
from tasks.workspace import use_workspace, workspace_at

# --- the review form (the UI renders `agentflows.forms.FraudReview`; `agentflows fraud decide` fills it) ---

OUTCOMES: dict[str, HumanAction] = {"confirm fraud": "confirm_fraud", "not fraud": "not_fraud", "escalate": "escalate"}


class AnalystAnswer(BaseModel):
    action: HumanAction
    analyst: str | None = None
    note: str = ""


Outcome = Literal["cleared", "blocked", "confirmed_fraud", "not_fraud", "escalated", "timed_out", "skipped"]
AUTO_OUTCOME: dict[Decision, Outcome] = {"clear": "cleared", "block": "blocked", "review": "timed_out"}
HUMAN_OUTCOME: dict[HumanAction, Outcome] = {
    "confirm_fraud": "confirmed_fraud",
    "not_fraud": "not_fraud",
    "escalate": "escalated",
    "timed_out": "timed_out",
}


class FraudCheckResult(BaseModel):
    case_id: int
    flow_run_id: str | None = None
    outcome: Outcome
    decision: Decision | None = Field(default=None, description="The automatic decision after the hard rules")
    model_decision: Decision | None = None
    deterministic_risk: float | None = None
    rule: str | None = None
    analyst: str | None = None
    note: str = ""
    reason: str | None = None


# --- a sweep's concurrency slot is released when this run starts waiting for its analyst ---

_sweep_slot: ContextVar[Callable[[], None] | None] = ContextVar("fraud_sweep_slot", default=None)


@contextmanager
def sweep_slot(release: Callable[[], None]) -> Iterator[None]:
    """Run a `fraud_check` inside this block to have `release` called when it starts to wait."""
    token = _sweep_slot.set(release)
    try:
        yield
    finally:
        _sweep_slot.reset(token)


def release_sweep_slot() -> None:
    """Tell the sweep that started this run (if any) that it no longer works, only waits."""
    release = _sweep_slot.get()
    if release is not None:
        release()


# --- what the analyst reads ----------------------------------------------------------------------------


def verdict_markdown(claim: ClaimSummary, verdict: CaseVerdict, flow_run_id: str) -> str:
    """The signal table, the rationale and the rule that applied: the run's artifact for the analyst.

    The customer's message, signal summaries, errors and the model's rationale are untrusted text and go
    through `agentflows.markdown`, so none of them can break the table or add structure to the page.
    """
    signals = md_table(
        ["signal", "status", "score", "rule score", "summary", "evidence"],
        (
            (
                s.name.replace("_", " "),
                Markdown("**FAILED**") if s.status == "failed" else "ok",
                f"{s.score:.2f}",
                f"{s.rule_score:.2f}",
                s.error or s.summary,
                Abbrev(", ".join(e.ref for e in s.evidence[:4]), ", ".join(e.ref for e in s.evidence)),
            )
            for s in sorted(verdict.signals, key=lambda s: -s.rule_score)
        ),
    )
    templates = (
        "\n".join(
            f"- {md_code(t.name)} version {md_code(t.version)} (similarity {t.similarity:.2f}): {md_cell(t.tactic)}"
            for t in verdict.templates
        )
        or "- none above the similarity floor"
    )
    offline_note = (
        "\n> **Offline model**: signals and verdict were written deterministically from the facts, without a "
        "language model.\n"
        if verdict.model == "offline"
        else ""
    )
    return "\n".join(
        [
            f"# Fraud check: case {claim.claim_id} ({md_cell(claim.kind.replace('_', ' '))})",
            offline_note,
            verdict_summary(claim, verdict),
            f"\n**Customer's message** (untrusted):\n{md_quote(claim.message)}",
            f"\n## Signals\n{signals}",
            f"\n## Rationale\n{md_text(verdict.proposal.rationale)}",
            f"\n## Templates matched\n{templates}",
            f"\n---\n**Digest:** {md_code(verdict.digest)} · decide in the form (Resume) or: "
            f"`agentflows fraud decide --case {claim.claim_id} --outcome 'not fraud' --analyst NAME`"
            f" · run {md_code(flow_run_id)}",
        ]
    )


def verdict_summary(claim: ClaimSummary, verdict: CaseVerdict) -> str:
    """The decision, the risk, the rule and the claim in two lines (the artifact's and the form's top)."""
    return (
        f"**Decision:** {md_code(verdict.decision)} · **Deterministic risk:** {verdict.deterministic_risk:.2f} · "
        f"**Model proposed:** {md_code(verdict.proposal.decision)} (risk {verdict.proposal.risk_score:.2f}) · "
        f"**Rule:** {md_cell(verdict.rule, limit=300)}\n\n**Order** {claim.order_id} · **customer** "
        f"{claim.customer_id} · **claimed** {claim.amount_claimed:,.2f} of {claim.order_amount:,.2f} · "
        f"**opened** {claim.opened_at:%Y-%m-%d %H:%M} UTC\n\n**Workspace** {md_code(verdict.workspace_version)} · "
        f"**rules** {md_code(f'fraud/rules.yaml@{verdict.rules_version}')}"
    )


def review_description(claim: ClaimSummary, verdict: CaseVerdict, artifact_link: str) -> str:
    """What the review form shows: one link to the whole case page, then what the analyst decides on."""
    signals = "\n".join(
        f"- **{md_cell(s.name.replace('_', ' '))}** "
        + (
            "**FAILED**: " + md_cell(s.error or s.summary, limit=200)
            if s.status == "failed"
            else f"{s.rule_score:.2f}: {md_cell(s.summary, limit=200)}"
        )
        for s in sorted(verdict.signals, key=lambda s: -s.rule_score)
    )
    link = md_link(f"Open the case page of case {claim.claim_id} (signals, evidence, templates)", artifact_link)
    return "\n".join(
        [
            f"**{link}**",
            f"\n{verdict_summary(claim, verdict)}",
            f"\n**Customer's message** (untrusted):\n{md_quote(claim.message)}",
            f"\n**Signals** (rule score):\n{signals}",
            f"\n**Rationale:** {md_cell(verdict.proposal.rationale, limit=1200)}",
        ]
    )


def waiting_line(case_id: int, flow_run_id: str) -> str:
    """The log line before the pause: the run page shows it above Prefect's own "Suspended" line."""
    return (
        f"waiting for an analyst: open {flow_run_url(flow_run_id)} or run "
        f"`agentflows fraud decide --case {case_id} --outcome 'confirm fraud|not fraud|escalate' --analyst NAME`"
    )


async def ask_analyst(verdict: CaseVerdict, description: str) -> AnalystAnswer:
    """Pause until an analyst answers.

    The pause key carries the verdict's digest (`pause_key`): the answer is stored under it, and the
    command line answers only a run paused on the verdict the database holds.
    """
    settings = get_settings()
    form = FraudReview.with_initial_data(description=description)
    try:
        answer = await wait_for_answer(
            form,
            timeout_s=settings.fraud_review_timeout_s,
            key=pause_key(FRAUD_REVIEW_PAUSE, verdict.digest, 1),
            waiting=waiting_line(verdict.claim_id, str(current_flow_run.id)),
        )
    except AnswerTimeout:
        return AnalystAnswer(action="timed_out")
    return AnalystAnswer(action=OUTCOMES[answer.outcome], analyst=answer.analyst.strip(), note=answer.note)


# --- the flow --------------------------------------------------------------------------------------------


@flow(name="fraud-check", flow_run_name="fraud-check-{case_id}", persist_result=True)
async def fraud_check(case_id: int, workspace_version: str | None = None) -> FraudCheckResult:
    """Check one claim; clear or block it automatically, or pause for an analyst's decision.

    `workspace_version`: the workspace snapshot to use (a sweep passes its own, so all its claims are
    judged by the same rules); by default the active one at the run's start.
    """
    logger = get_run_logger()
    flow_run_id = str(current_flow_run.id)
    version = workspace_version or await use_workspace()
    workspace = await asyncio.to_thread(workspace_at, version)
    claim = await load_case(case_id)
    try:
        await acquire_check(case_id, flow_run_id)
    except CaseBusyError as exc:
        logger.info("%s", exc)
        return FraudCheckResult(case_id=case_id, flow_run_id=flow_run_id, outcome="skipped", reason=str(exc))
    try:
        signals, facts = await run_signals(claim, workspace)
        conversation = facts.get("conversation")
        for problem in getattr(conversation, "template_problems", []):
            logger.warning("fraud template skipped: %s", problem)
        verdict = await judge(claim, signals, facts, workspace)
        artifact_id = None
        if verdict.decision == "review":  # before the row says "awaiting review": whoever reads it finds the page
            artifact_id = await acreate_markdown_artifact(
                markdown=verdict_markdown(claim, verdict, flow_run_id),
                key=f"fraud-case-{case_id}",
                description=f"Fraud check of case {case_id}",
            )
        await record_auto_decision(verdict, flow_run_id)
        result = FraudCheckResult(
            case_id=case_id,
            flow_run_id=flow_run_id,
            outcome=AUTO_OUTCOME[verdict.decision],
            decision=verdict.decision,
            model_decision=verdict.proposal.decision,
            deterministic_risk=verdict.deterministic_risk,
            rule=verdict.rule,
        )
        if verdict.decision != "review":
            logger.info("case %s: %s (risk %.2f)", case_id, verdict.decision, verdict.deterministic_risk)
            return result
        release_sweep_slot()
        answer = await ask_analyst(verdict, review_description(claim, verdict, artifact_url(artifact_id)))
        await record_human_decision(verdict, flow_run_id, answer.action, answer.analyst, answer.note)
        if answer.action == "confirm_fraud" and not verdict.templates:  # a tactic the templates do not know yet
            path = await asyncio.to_thread(
                propose_template, case_id, claim.kind, claim.message, answer.analyst or "analyst", answer.note
            )
            logger.info("confirmed fraud matched no template: proposed %s (inactive until a person moves it)", path)
    except Exception as exc:  # free the claim for a later check, then fail loudly
        await asyncio.to_thread(mark_failed_sync, case_id, flow_run_id, f"{type(exc).__name__}: {exc}")
        raise
    logger.info("case %s: %s by %s", case_id, answer.action, answer.analyst or "timeout")
    return result.model_copy(
        update={"outcome": HUMAN_OUTCOME[answer.action], "analyst": answer.analyst, "note": answer.note}
    )
