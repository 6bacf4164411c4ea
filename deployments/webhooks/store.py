"""The `webhook_deliveries` table as the receiver uses it: gate 4 (idempotency) and the durable queue.

Every function is synchronous SQLAlchemy, one short session each, called through
`asyncio.to_thread`; the unique (source, webhook-id) constraint decides which copy of a delivery
owns it, and a conditional update on `updated_at` decides which receiver takes over a stale one.
"""

from __future__ import annotations

from datetime import timedelta
from secrets import token_hex
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from agentflows.db import session_scope
from agentflows.db.base import utcnow
from agentflows.db.webhooks import DeliveryStatus, LandingPlan, WebhookDelivery
from agents.landing.plan import MarketingPlan
from deployments.webhooks.verification import Delivery

STALE_CLAIM = timedelta(seconds=60)  # an `accepted` row this old lost its receiver; a redelivery may take it over


def claim_sync(delivery: Delivery, deployment: str, parameters: dict[str, Any]) -> tuple[bool, WebhookDelivery]:
    """(True, row) if this call now owns the delivery, else (False, the row someone else wrote)."""
    try:
        with session_scope() as session:
            row = WebhookDelivery(
                source=delivery.source,
                delivery_id=delivery.id,
                payload_sha256=delivery.digest,
                deployment=deployment,
                status=DeliveryStatus.ACCEPTED,
                ticket=token_hex(16),
                parameters=parameters,
            )
            session.add(row)
            session.flush()
            return True, row
    except IntegrityError:
        return False, read_sync(delivery)


def read_sync(delivery: Delivery) -> WebhookDelivery:
    with session_scope() as session:
        row = session.scalar(
            select(WebhookDelivery).where(
                WebhookDelivery.source == delivery.source, WebhookDelivery.delivery_id == delivery.id
            )
        )
    if row is None:  # only after a manual delete between our insert attempt and this read
        raise LookupError(f"delivery {delivery.source}:{delivery.id} vanished")
    return row


def by_ticket_sync(ticket: str) -> WebhookDelivery | None:
    with session_scope() as session:
        return session.scalar(select(WebhookDelivery).where(WebhookDelivery.ticket == ticket))


def is_stale(row: WebhookDelivery) -> bool:
    """Failed, or queued so long ago that its receiver must have died (a live one retries sooner)."""
    naive_updated = row.updated_at.replace(tzinfo=None)  # SQLite hands back naive UTC, PostgreSQL aware UTC
    return row.status == DeliveryStatus.FAILED or (
        row.status == DeliveryStatus.ACCEPTED and naive_updated < (utcnow() - STALE_CLAIM).replace(tzinfo=None)
    )


def take_over_sync(row: WebhookDelivery, parameters: dict[str, Any] | None = None) -> bool:
    """Claim a delivery whose first attempt failed or died; exactly one concurrent caller wins."""
    if not is_stale(row):
        return False
    values: dict[str, Any] = {"status": DeliveryStatus.ACCEPTED, "error": None, "updated_at": utcnow()}
    if parameters is not None:
        values["parameters"] = parameters
    if row.ticket is None:  # a row from before tickets existed
        values["ticket"] = token_hex(16)
    with session_scope() as session:
        result = session.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.id == row.id, WebhookDelivery.updated_at == row.updated_at)
            .values(**values)
        )
        return result.rowcount == 1


def abandoned_sync(limit: int = 500) -> list[WebhookDelivery]:
    """Queued deliveries whose receiver died before creating their run (the recovery sweep's work)."""
    cutoff = utcnow() - STALE_CLAIM
    with session_scope() as session:
        rows = session.scalars(
            select(WebhookDelivery)
            .where(WebhookDelivery.status == DeliveryStatus.ACCEPTED, WebhookDelivery.parameters.is_not(None))
            .order_by(WebhookDelivery.id)
            .limit(limit)
        ).all()
    return [r for r in rows if r.updated_at.replace(tzinfo=None) < cutoff.replace(tzinfo=None)]


def finish_sync(row_id: int, flow_run_id: str | None, error: str | None) -> None:
    """Record the outcome; once the run exists its parameters live in Prefect, not here."""
    values: dict[str, Any] = {
        "status": DeliveryStatus.STARTED if flow_run_id else DeliveryStatus.FAILED,
        "flow_run_id": flow_run_id,
        "error": error,
        "updated_at": utcnow(),
    }
    if flow_run_id:
        values["parameters"] = None
    with session_scope() as session:
        session.execute(update(WebhookDelivery).where(WebhookDelivery.id == row_id).values(**values))


def still_queued_sync(row_id: int, error: str) -> None:
    """A creation that keeps failing: note why and restart the stale clock, so the sweep retries it later."""
    with session_scope() as session:
        session.execute(
            update(WebhookDelivery).where(WebhookDelivery.id == row_id).values(error=error, updated_at=utcnow())
        )


def plan_sync(flow_run_id: str) -> tuple[MarketingPlan, str | None] | None:
    """A run's stored plan and the workspace version that wrote it (None before the plan is stored)."""
    with session_scope() as session:
        row = session.execute(
            select(LandingPlan.plan, LandingPlan.workspace_version).where(LandingPlan.flow_run_id == flow_run_id)
        ).first()
    return (MarketingPlan.model_validate(row.plan), row.workspace_version) if row is not None else None
