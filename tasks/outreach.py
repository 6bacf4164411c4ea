"""Outreach bookkeeping tasks: the drafts a reviewer saw, and what became of them.

Each decision is written in one transaction with everything it implies (the draft's status, the
outbox row for an approval, the CRM activity), so a crash leaves either all of it or none of it.
Every write is keyed by the flow run, so a retried task changes nothing the second time.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from typing import Any, Literal

from prefect import task
from pydantic import BaseModel
from sqlalchemy import select

from agentflows.db import session_scope
from agentflows.db.base import utcnow
from agentflows.db.crm import Activity, ActivityKind, OutreachDraft
from agents.outreach.brief import EmailDrafts, ProspectBrief, ProspectProfile, StyleExample
from tasks.email import add_to_outbox

Outcome = Literal["sent", "rejected", "timed_out"]


class Decision(BaseModel):
    """What the reviewer decided, normalised from the approval form."""

    outcome: Outcome
    reviewer: str | None = None
    variant: int | None = None  # 1-based
    subject: str | None = None
    body: str | None = None
    edited: bool = False
    note: str = ""


def drafts_digest(brief: ProspectBrief, drafts: EmailDrafts) -> str:
    """A digest of exactly what the reviewer is shown; an approval must carry the same one."""
    payload = json.dumps(
        {"brief": brief.model_dump(mode="json"), "drafts": drafts.model_dump(mode="json")}, sort_keys=True
    )
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


class SavedDrafts(BaseModel):
    """Where a prospect's drafts were stored, and the digest the approval must carry."""

    draft_id: int
    digest: str


def _save_draft_sync(
    batch_run_id: str,
    profile: ProspectProfile,
    writer: str,
    model: str,
    brief: ProspectBrief,
    drafts: EmailDrafts,
    examples: list[StyleExample],
    workspace_version: str | None = None,
) -> SavedDrafts:
    digest = drafts_digest(brief, drafts)
    with session_scope() as session:
        row = session.scalar(
            select(OutreachDraft).where(
                OutreachDraft.batch_run_id == batch_run_id, OutreachDraft.contact_id == profile.contact_id
            )
        )
        if row is None:
            row = OutreachDraft(
                batch_run_id=batch_run_id,
                contact_id=profile.contact_id,
                account_id=profile.account_id,
                status="awaiting_approval",
            )
            session.add(row)
        if row.status == "awaiting_approval" and row.flow_run_id is None:  # never rewrite what a reviewer saw
            row.writer = writer
            row.workspace_version = workspace_version
            row.model = model
            row.brief = brief.model_dump(mode="json")
            row.variants = [v.model_dump(mode="json") for v in drafts.variants]
            row.style_examples = [e.model_dump(mode="json") for e in examples]
            row.digest = digest
        session.flush()
        return SavedDrafts(draft_id=row.id, digest=row.digest)


@task(name="save-drafts", retries=2, retry_delay_seconds=2)
async def save_drafts(
    batch_run_id: str,
    profile: ProspectProfile,
    writer: str,
    model: str,
    brief: ProspectBrief,
    drafts: EmailDrafts,
    examples: list[StyleExample],
    workspace_version: str | None = None,
) -> SavedDrafts:
    """Store the drafts a reviewer will see (once per batch and prospect), with the examples behind them."""
    return await asyncio.to_thread(
        _save_draft_sync, batch_run_id, profile, writer, model, brief, drafts, examples, workspace_version
    )


class DraftForReview(BaseModel):
    """Everything the approval run needs, read back from the database."""

    draft_id: int
    profile: ProspectProfile
    writer: str
    model: str
    brief: ProspectBrief
    drafts: EmailDrafts
    digest: str
    status: str
    style_examples: list[StyleExample] = []
    workspace_version: str | None = None


def _open_review_sync(draft_id: int, flow_run_id: str) -> DraftForReview:
    from tasks.crm import load_profiles_sync

    with session_scope() as session:
        row = session.get(OutreachDraft, draft_id)
        if row is None:
            raise LookupError(f"no outreach draft {draft_id}")
        if row.flow_run_id is None:
            row.flow_run_id = flow_run_id
        elif row.flow_run_id != flow_run_id:
            raise RuntimeError(f"draft {draft_id} is already under review in run {row.flow_run_id}")
        contact_id = row.contact_id
        review = dict(
            draft_id=row.id,
            writer=row.writer,
            model=row.model,
            brief=row.brief,
            drafts={"variants": row.variants},
            digest=row.digest,
            status=row.status,
            style_examples=row.style_examples or [],
            workspace_version=row.workspace_version,
        )
    return DraftForReview(profile=load_profiles_sync([contact_id])[contact_id], **review)


@task(name="open-review", retries=2, retry_delay_seconds=2)
async def open_review(draft_id: int, flow_run_id: str) -> DraftForReview:
    """Bind the drafts to this approval run (one run per draft) and load them for the reviewer."""
    return await asyncio.to_thread(_open_review_sync, draft_id, flow_run_id)


def _record_decision_sync(review: DraftForReview, flow_run_id: str, decision: Decision) -> str | None:
    """Write the decision, its CRM activity and (for an approval) the outbox row in one transaction.

    The idempotency key names the draft, not the run: whatever happens to runs, one set of drafts
    can be sent at most once. Returns the outbox key of an approval, None otherwise.
    """
    profile, drafts, model = review.profile, review.drafts, review.model
    key = f"prospect-outreach:draft-{review.draft_id}:send"
    details: dict[str, Any] = {
        "flow_run_id": flow_run_id,
        "reviewer": decision.reviewer,
        "note": decision.note,
        "model": model,
        "writer": review.writer,
    }
    with session_scope() as session:
        draft = session.get(OutreachDraft, review.draft_id)
        if draft is not None and draft.status != "awaiting_approval":
            return key if draft.status == "approved" else None  # already recorded by an earlier attempt
        if decision.outcome == "sent":
            assert decision.variant is not None and decision.subject and decision.body
            variant = drafts.variants[decision.variant - 1]
            details |= {
                "variant": decision.variant,
                "angle": variant.angle,
                "facts_used": variant.facts_used,
                "edited": decision.edited,
                "drafted_subject": variant.subject,
                "drafted_body": variant.body,
                "outbox_key": key,
            }
            kind, subject, body, status = ActivityKind.OUTREACH_SENT, decision.subject, decision.body, "approved"
        elif decision.outcome == "rejected":
            details["angles"] = [v.angle for v in drafts.variants]
            kind, subject, body, status = (
                ActivityKind.OUTREACH_REJECTED,
                "Outreach drafts rejected",
                decision.note,
                "rejected",
            )
        else:
            details["angles"] = [v.angle for v in drafts.variants]
            kind, subject, body, status = (
                ActivityKind.OUTREACH_TIMED_OUT,
                "Outreach approval timed out",
                "",
                "timed_out",
            )
        session.add(
            Activity(
                idempotency_key=f"{key}:activity",
                account_id=profile.account_id,
                contact_id=profile.contact_id,
                kind=kind,
                subject=subject[:300],
                body=body,
                details=details,
            )
        )
        if decision.outcome == "sent":
            add_to_outbox(
                session,
                key=key,
                contact_id=profile.contact_id,
                subject=decision.subject or "",
                body=decision.body or "",
                flow_run_id=flow_run_id,
                headers={"X-Agentflows-Flow-Run": flow_run_id, "X-Agentflows-Model": model},
            )
        if draft is not None:
            draft.status = status
            draft.reviewer = decision.reviewer
            draft.chosen_variant = decision.variant
            draft.final_subject = decision.subject
            draft.final_body = decision.body
            draft.note = decision.note
            draft.decided_at = utcnow()
    return key if decision.outcome == "sent" else None


@task(name="record-decision", retries=2, retry_delay_seconds=2)
async def record_decision(review: DraftForReview, flow_run_id: str, decision: Decision) -> str | None:
    """Log the reviewer's decision in the CRM; an approval also queues the email in the outbox."""
    return await asyncio.to_thread(_record_decision_sync, review, flow_run_id, decision)


APPROVAL_DEPLOYMENT = "outreach-approval/on-demand"


@task(name="start-approval-run", retries=2, retry_delay_seconds=2)
async def start_approval_run(draft_id: int) -> str:
    """Start the draft's approval as its own deployment run (once per draft, whatever retries happen)."""
    from prefect.deployments import run_deployment

    run = await run_deployment(
        APPROVAL_DEPLOYMENT,
        parameters={"draft_id": draft_id},
        timeout=0,  # started, not awaited: the batch ends and the approval waits without a process
        as_subflow=False,
        idempotency_key=f"outreach-approval:draft-{draft_id}",
        tags=["outreach", "approval"],
    )
    return str(run.id)


def awaiting_approval_runs_sync() -> dict[str, int]:
    """Approval run id -> draft id, for every draft still waiting for a reviewer."""
    with session_scope() as session:
        rows = session.execute(
            select(OutreachDraft.flow_run_id, OutreachDraft.id).where(
                OutreachDraft.status == "awaiting_approval", OutreachDraft.flow_run_id.is_not(None)
            )
        ).all()
    return {str(run_id): draft_id for run_id, draft_id in rows}


def record_timeout_sync(draft_id: int, flow_run_id: str) -> None:
    """The approval's wait expired with its run gone: record `timed_out` (idempotent, like any decision)."""
    _record_decision_sync(_open_review_sync(draft_id, flow_run_id), flow_run_id, Decision(outcome="timed_out"))


@task(name="awaiting-approvals")
async def awaiting_approvals() -> dict[str, int]:
    """Approval run id -> draft id, for every draft still waiting for a reviewer."""
    return await asyncio.to_thread(awaiting_approval_runs_sync)


@task(name="record-timeout", retries=2, retry_delay_seconds=2)
async def record_timeout(draft_id: int, flow_run_id: str) -> None:
    await asyncio.to_thread(record_timeout_sync, draft_id, flow_run_id)
