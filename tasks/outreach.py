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
from agents.outreach.brief import EmailDrafts, ProspectBrief, ProspectProfile, WriterType
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


def _save_draft_sync(
    flow_run_id: str,
    profile: ProspectProfile,
    writer: WriterType,
    model: str,
    brief: ProspectBrief,
    drafts: EmailDrafts,
) -> str:
    digest = drafts_digest(brief, drafts)
    with session_scope() as session:
        row = session.scalar(select(OutreachDraft).where(OutreachDraft.flow_run_id == flow_run_id))
        if row is None:
            row = OutreachDraft(
                flow_run_id=flow_run_id,
                contact_id=profile.contact_id,
                account_id=profile.account_id,
                status="awaiting_approval",
            )
            session.add(row)
        if row.status != "awaiting_approval":  # decided already: never overwrite what was approved
            return row.digest
        row.writer = writer.value
        row.model = model
        row.brief = brief.model_dump(mode="json")
        row.variants = [v.model_dump(mode="json") for v in drafts.variants]
        row.digest = digest
    return digest


@task(name="save-drafts", retries=2, retry_delay_seconds=2)
async def save_drafts(
    flow_run_id: str,
    profile: ProspectProfile,
    writer: WriterType,
    model: str,
    brief: ProspectBrief,
    drafts: EmailDrafts,
) -> str:
    """Store the drafts shown to the reviewer; returns their digest."""
    return await asyncio.to_thread(_save_draft_sync, flow_run_id, profile, writer, model, brief, drafts)


def _record_decision_sync(
    flow_run_id: str, profile: ProspectProfile, drafts: EmailDrafts, decision: Decision, model: str
) -> str | None:
    """Write the decision, its CRM activity and (for an approval) the outbox row in one transaction.

    Returns the outbox key of an approval, None otherwise.
    """
    key = f"prospect-outreach:contact-{profile.contact_id}:run-{flow_run_id}:send"
    details: dict[str, Any] = {
        "flow_run_id": flow_run_id,
        "reviewer": decision.reviewer,
        "note": decision.note,
        "model": model,
    }
    with session_scope() as session:
        draft = session.scalar(select(OutreachDraft).where(OutreachDraft.flow_run_id == flow_run_id))
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
async def record_decision(
    flow_run_id: str, profile: ProspectProfile, drafts: EmailDrafts, decision: Decision, model: str
) -> str | None:
    """Log the reviewer's decision in the CRM; an approval also queues the email in the outbox."""
    return await asyncio.to_thread(_record_decision_sync, flow_run_id, profile, drafts, decision, model)
