"""Prospect batch: the weekday-morning schedule picks who to contact, then runs prospect outreach.

Deployed as `prospect-batch/weekday-mornings` (cron `0 8 * * 1-5`). It picks at most one contact
per account among accounts with no outreach in the last `recent_days` and no draft waiting for a
reviewer, lowest ids first, so the batch walks through the CRM instead of mailing the same people.
The drafts then wait for approval exactly as a hand-started `prospect-outreach` run does.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from prefect import flow, get_run_logger, task
from sqlalchemy import select

from agentflows.db import session_scope
from agentflows.db.base import utcnow
from agentflows.db.crm import Activity, ActivityKind, Contact, OutreachDraft
from flows.prospect_outreach import OutreachSummary, prospect_outreach

OUTREACH_KINDS = (ActivityKind.OUTREACH_SENT, ActivityKind.OUTREACH_REJECTED, ActivityKind.OUTREACH_TIMED_OUT)


def select_prospects_sync(limit: int, recent_days: int) -> list[int]:
    """Up to `limit` contact ids, one per account, whose account was not approached recently."""
    since = utcnow() - timedelta(days=recent_days)
    with session_scope() as session:
        recent = select(Activity.account_id).where(Activity.kind.in_(OUTREACH_KINDS), Activity.occurred_at >= since)
        waiting = select(OutreachDraft.account_id).where(OutreachDraft.status == "awaiting_approval")
        rows = session.execute(
            select(Contact.id, Contact.account_id)
            .where(Contact.account_id.not_in(recent), Contact.account_id.not_in(waiting))
            .order_by(Contact.id)
            .limit(limit * 10)
        ).all()
    picked: dict[int, int] = {}
    for contact_id, account_id in rows:
        picked.setdefault(account_id, contact_id)
        if len(picked) == limit:
            break
    return list(picked.values())


@task(name="select-prospects", retries=2, retry_delay_seconds=2)
async def select_prospects(limit: int, recent_days: int) -> list[int]:
    return await asyncio.to_thread(select_prospects_sync, limit, recent_days)


@flow(name="prospect-batch", persist_result=True)
async def prospect_batch(limit: int = 10, recent_days: int = 30) -> OutreachSummary:
    """Pick today's prospects and draft outreach for them; each draft waits for a reviewer."""
    ids = await select_prospects(limit, recent_days)
    if not ids:
        get_run_logger().info("no prospect is due: every account was approached in the last %s days", recent_days)
        return OutreachSummary(outcomes=[])
    get_run_logger().info("drafting outreach for %s prospects: %s", len(ids), ids)
    return await prospect_outreach(ids)
