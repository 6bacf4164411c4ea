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

from agentflows.forms import FraudReview
from agentflows.fraud_templates import propose_template
from agentflows.human_input import AnswerTimeout, wait_for_answer
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


def _cell(text: str, limit: int = 160) -> str:
    text = " ".join(text.split())
    text = text[: limit - 1] + "…" if len(text) > limit else text
    return text.replace("|", "/").replace("<", "&lt;").replace(">", "&gt;").replace("`", "'")


def verdict_markdown(claim: ClaimSummary, verdict: CaseVerdict, flow_run_id: str) -> str:
    """The signal table, the rationale and the rule that applied, above the review form."""
    rows = "\n".join(
        f"| {s.name.replace('_', ' ')} | {'**FAILED**' if s.status == 'failed' else 'ok'} | {s.score:.2f} "
        f"| {s.rule_score:.2f} | {_cell(s.error or s.summary)} | {_cell(', '.join(e.ref for e in s.evidence[:4]), 90)}"
        " |"
        for s in sorted(verdict.signals, key=lambda s: -s.rule_score)
    )
    templates = (
        "\n".join(
            f"- `{t.name}` version `{t.version}` (similarity {t.similarity:.2f}): {_cell(t.tactic)}"
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
            f"# Fraud check: case {claim.claim_id} ({claim.kind.replace('_', ' ')})",
            offline_note,
            f"**Decision:** `{verdict.decision}` · **Deterministic risk:** {verdict.deterministic_risk:.2f} · "
            f"**Model proposed:** `{verdict.proposal.decision}` (risk {verdict.proposal.risk_score:.2f}) · "
            f"**Rule:** {_cell(verdict.rule, 300)}",
            f"\n**Order** {claim.order_id} · **customer** {claim.customer_id} · **claimed** "
            f"{claim.amount_claimed:,.2f} of {claim.order_amount:,.2f} · "
            f"**opened** {claim.opened_at:%Y-%m-%d %H:%M} UTC",
            f"\n**Workspace** `{verdict.workspace_version}` · **rules** `fraud/rules.yaml@{verdict.rules_version}`",
            f"\n**Customer's message** (untrusted):\n> {_cell(claim.message, 1200)}",
            "\n## Signals\n| signal | status | score | rule score | summary | evidence |\n|---|---|---|---|---|---|",
            rows,
            f"\n## Rationale\n{_cell(verdict.proposal.rationale, 2000)}",
            f"\n## Templates matched\n{templates}",
            f"\n---\n**Digest:** `{verdict.digest}` · decide in the form (Resume) or: "
            f"`agentflows fraud decide --case {claim.claim_id} --outcome 'not fraud' --analyst NAME`"
            f" · run `{flow_run_id}`",
        ]
    )


async def ask_analyst(verdict: CaseVerdict, description: str) -> AnalystAnswer:
    """Pause until an analyst answers; re-ask (with the reason) when the answer cannot be accepted."""
    settings = get_settings()
    problem = ""
    for attempt in range(1, 21):
        form = FraudReview.with_initial_data(
            description=(f"**Not accepted:** {problem}\n\n" if problem else "") + description,
            verdict_digest=verdict.digest,
        )
        try:
            answer = await wait_for_answer(
                form, timeout_s=settings.fraud_review_timeout_s, key=f"fraud-review-{attempt}"
            )
        except AnswerTimeout:
            return AnalystAnswer(action="timed_out")
        if answer.verdict_digest.strip() == verdict.digest:
            return AnalystAnswer(action=OUTCOMES[answer.outcome], analyst=answer.analyst.strip(), note=answer.note)
        problem = (
            f"this verdict changed since the form you submitted was shown (digest {answer.verdict_digest!r}, "
            f"current {verdict.digest!r}). Reload the run page and review the current verdict."
        )
        get_run_logger().warning("review answer not accepted: %s", problem)
    raise RuntimeError("20 review answers in a row could not be accepted; the case stays undecided")


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
        markdown = verdict_markdown(claim, verdict, flow_run_id)
        await acreate_markdown_artifact(
            markdown=markdown, key=f"fraud-case-{case_id}", description=f"Fraud check of case {case_id}"
        )
        release_sweep_slot()
        answer = await ask_analyst(verdict, markdown)
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
