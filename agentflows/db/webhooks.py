"""Trigger tables: webhook deliveries (the receiver's idempotency record) and landing-page plans.

A delivery row is written *before* a flow run is created, under a unique (source, delivery id)
constraint, so two copies of one delivery arriving at the same moment cannot both start a run:
the database decides which one owns it, the other returns the stored answer. The row is also the
durable queue between the answer and Prefect: it keeps the run's parameters until the run exists
(then they are cleared, as payloads carry personal data), so a receiver that dies with deliveries
queued leaves rows that any receiver's recovery sweep starts later. The payload itself is never
kept, only a digest (enough to tell a retried delivery from another message reusing an id).

Landing plans live here because the webhook caller fetches them back (`GET /plans/{run id}`)
from any machine, while Prefect's persisted results stay on the machine that ran the flow.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Enum, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from agentflows.db.base import Base, utcnow


class DeliveryStatus(enum.StrEnum):
    ACCEPTED = "accepted"  # row claimed (queued), flow run not created yet
    STARTED = "started"  # flow run created; `flow_run_id` is the answer for every copy
    FAILED = "failed"  # creating the run failed; a redelivery of the same id may claim it again


class WebhookDelivery(Base):
    __tablename__ = "webhook_deliveries"
    __table_args__ = (UniqueConstraint("source", "delivery_id", name="uq_webhook_deliveries_source_delivery_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(String(20))
    delivery_id: Mapped[str] = mapped_column(String(200), doc="The `webhook-id` header")
    payload_sha256: Mapped[str] = mapped_column(String(64))
    deployment: Mapped[str] = mapped_column(String(200))
    status: Mapped[DeliveryStatus] = mapped_column(
        Enum(DeliveryStatus, native_enum=False, length=10), default=DeliveryStatus.ACCEPTED, index=True
    )
    flow_run_id: Mapped[str | None] = mapped_column(String(64), index=True)
    ticket: Mapped[str | None] = mapped_column(String(32), unique=True, doc="Unguessable id of /deliveries/{ticket}")
    parameters: Mapped[dict[str, Any] | None] = mapped_column(JSON, doc="The run's parameters, until it exists")
    error: Mapped[str | None] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)


class LandingPlan(Base):
    """The marketing plan one `landing-plan` run produced for a visitor (the typed output as JSON)."""

    __tablename__ = "landing_plans"

    id: Mapped[int] = mapped_column(primary_key=True)
    flow_run_id: Mapped[str] = mapped_column(String(64), unique=True)
    company: Mapped[str] = mapped_column(String(200))
    account_id: Mapped[int | None] = mapped_column(doc="The CRM account matched by email domain, if any")
    model: Mapped[str] = mapped_column(String(200))
    plan: Mapped[dict[str, Any]] = mapped_column(JSON)
    workspace_version: Mapped[str | None] = mapped_column(String(16))  # the workspace snapshot that produced it
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
