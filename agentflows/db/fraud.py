"""Marketplace and fraud-check tables: who bought what, where it went, what went wrong, what we decided.

The marketplace half (customers, addresses, orders, returns, shipment events, payment incidents,
claims, known fraud addresses) is what the six signals read, always set-wise. The fraud-check half
is written by the flow: `claim_checks` holds one row per claim and is the lock that stops two runs
from checking the same claim; `fraud_decisions` is the audit trail, one row per decision (automatic
or human) with its evidence, keyed by an idempotency key so a retried write is a no-op.
`claim_labels` holds the seeded ground truth; no signal ever reads it, only the evaluation does.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, Enum, Float, ForeignKey, Index, Integer, Numeric, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from agentflows.db.base import Base, utcnow


class ClaimKind(enum.StrEnum):
    NOT_RECEIVED = "not_received"
    ARRIVED_BROKEN = "arrived_broken"
    REFUND_REQUEST = "refund_request"


class ShipmentEventKind(enum.StrEnum):
    SHIPPED = "shipped"
    IN_TRANSIT = "in_transit"
    OUT_FOR_DELIVERY = "out_for_delivery"
    DELIVERED = "delivered"
    LOST = "lost"
    EXCEPTION = "exception"


class PaymentIncidentKind(enum.StrEnum):
    CHARGEBACK = "chargeback"
    DECLINE = "decline"
    CARD_MISMATCH = "card_mismatch"


class CheckStatus(enum.StrEnum):
    IN_PROGRESS = "in_progress"
    AWAITING_REVIEW = "awaiting_review"
    DECIDED = "decided"
    TIMED_OUT = "timed_out"
    FAILED = "failed"


def _enum(cls: type[enum.StrEnum], length: int = 20) -> Enum:
    """Stored by value (`not_received`), so set-wise SQL and pandas read the same words as the code."""
    return Enum(cls, native_enum=False, length=length, values_callable=lambda e: [m.value for m in e])


class Address(Base):
    """A postal address with coordinates from the offline gazetteer; `normalized` is the match key."""

    __tablename__ = "addresses"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int | None] = mapped_column(Integer, index=True)  # who entered it (no FK: cycle)
    line1: Mapped[str] = mapped_column(String(200))
    city: Mapped[str] = mapped_column(String(100))
    postcode: Mapped[str] = mapped_column(String(20))
    country: Mapped[str] = mapped_column(String(2))
    lat: Mapped[float] = mapped_column(Float)
    lon: Mapped[float] = mapped_column(Float)
    normalized: Mapped[str] = mapped_column(String(300), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Customer(Base):
    __tablename__ = "customers"

    id: Mapped[int] = mapped_column(primary_key=True)
    # The row's key in the team's own system (import and sync upsert by it); None for seeded rows.
    external_id: Mapped[str | None] = mapped_column(String(200), unique=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    first_name: Mapped[str] = mapped_column(String(100))
    last_name: Mapped[str] = mapped_column(String(100))
    country: Mapped[str] = mapped_column(String(2))
    signup_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    lifetime_gmv: Mapped[float] = mapped_column(Numeric(12, 2), default=0)
    home_address_id: Mapped[int | None] = mapped_column(ForeignKey("addresses.id"))


class Order(Base):
    __tablename__ = "orders"
    __table_args__ = (
        Index("ix_orders_customer_time", "customer_id", "placed_at"),
        Index("ix_orders_card_time", "card_ref", "placed_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # The row's key in the team's own system (import and sync upsert by it); None for seeded rows.
    external_id: Mapped[str | None] = mapped_column(String(200), unique=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    placed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    amount: Mapped[float] = mapped_column(Numeric(12, 2))
    items: Mapped[int] = mapped_column(Integer)
    delivery_address_id: Mapped[int] = mapped_column(ForeignKey("addresses.id"), index=True)
    card_country: Mapped[str] = mapped_column(String(2))
    # The payment processor's token or fingerprint of the card (never its number); None when the export has none.
    card_ref: Mapped[str | None] = mapped_column(String(64))
    carrier: Mapped[str] = mapped_column(String(40))


class OrderReturn(Base):
    """A return shipment; `return_address_id` is where the parcel was handed to the carrier."""

    __tablename__ = "order_returns"

    id: Mapped[int] = mapped_column(primary_key=True)
    # The row's key in the team's own system (import and sync upsert by it); None for seeded rows.
    external_id: Mapped[str | None] = mapped_column(String(200), unique=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    return_address_id: Mapped[int] = mapped_column(ForeignKey("addresses.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ShipmentEvent(Base):
    __tablename__ = "shipment_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    # The row's key in the team's own system (import and sync upsert by it); None for seeded rows.
    external_id: Mapped[str | None] = mapped_column(String(200), unique=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    carrier: Mapped[str] = mapped_column(String(40))
    kind: Mapped[ShipmentEventKind] = mapped_column(_enum(ShipmentEventKind))
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    location: Mapped[str] = mapped_column(String(120), default="")


class PaymentIncident(Base):
    __tablename__ = "payment_incidents"
    __table_args__ = (Index("ix_payment_incidents_customer_time", "customer_id", "occurred_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    # The row's key in the team's own system (import and sync upsert by it); None for seeded rows.
    external_id: Mapped[str | None] = mapped_column(String(200), unique=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id"))
    kind: Mapped[PaymentIncidentKind] = mapped_column(_enum(PaymentIncidentKind))
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    amount: Mapped[float] = mapped_column(Numeric(12, 2), default=0)
    card_country: Mapped[str] = mapped_column(String(2), default="")


class Claim(Base):
    """The case: a customer's claim about one order, in their own words (untrusted text)."""

    __tablename__ = "claims"
    __table_args__ = (Index("ix_claims_customer_time", "customer_id", "opened_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    # The row's key in the team's own system (import and sync upsert by it); None for seeded rows.
    external_id: Mapped[str | None] = mapped_column(String(200), unique=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    kind: Mapped[ClaimKind] = mapped_column(_enum(ClaimKind))
    message: Mapped[str] = mapped_column(Text)
    amount_claimed: Mapped[float] = mapped_column(Numeric(12, 2))
    opened_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


class KnownFraudAddress(Base):
    __tablename__ = "known_fraud_addresses"

    id: Mapped[int] = mapped_column(primary_key=True)
    # The row's key in the team's own system (import and sync upsert by it); None for seeded rows.
    external_id: Mapped[str | None] = mapped_column(String(200), unique=True)
    line1: Mapped[str] = mapped_column(String(200))
    city: Mapped[str] = mapped_column(String(100))
    postcode: Mapped[str] = mapped_column(String(20))
    country: Mapped[str] = mapped_column(String(2))
    normalized: Mapped[str] = mapped_column(String(300), unique=True)
    source: Mapped[str] = mapped_column(String(200), default="")
    added_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ClaimLabel(Base):
    """Seeded ground truth for the evaluation. Signals and agents never read this table."""

    __tablename__ = "claim_labels"

    claim_id: Mapped[int] = mapped_column(ForeignKey("claims.id"), primary_key=True)
    is_fraud: Mapped[bool] = mapped_column(Boolean)
    pattern: Mapped[str] = mapped_column(String(60))


class ClaimCheck(Base):
    """One row per checked claim, inserted before any work: the unique claim_id is the lock."""

    __tablename__ = "claim_checks"

    id: Mapped[int] = mapped_column(primary_key=True)
    claim_id: Mapped[int] = mapped_column(ForeignKey("claims.id"), unique=True)
    flow_run_id: Mapped[str | None] = mapped_column(String(64), index=True)
    status: Mapped[CheckStatus] = mapped_column(_enum(CheckStatus))
    risk: Mapped[float | None] = mapped_column(Float)
    decision: Mapped[str | None] = mapped_column(String(30))
    verdict_digest: Mapped[str | None] = mapped_column(String(64))
    error: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class FraudDecision(Base):
    """The audit trail: every decision on a claim, automatic or human, with the evidence behind it."""

    __tablename__ = "fraud_decisions"

    id: Mapped[int] = mapped_column(primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    claim_id: Mapped[int] = mapped_column(ForeignKey("claims.id"), index=True)
    flow_run_id: Mapped[str | None] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(30))  # clear, review, block, confirm_fraud, not_fraud, ...
    actor: Mapped[str] = mapped_column(String(200))  # "auto" or "analyst:<name>"
    deterministic_risk: Mapped[float] = mapped_column(Float)
    model: Mapped[str] = mapped_column(String(200))
    model_decision: Mapped[str | None] = mapped_column(String(30))
    model_risk: Mapped[float | None] = mapped_column(Float)
    rule: Mapped[str] = mapped_column(Text, default="")
    rationale: Mapped[str] = mapped_column(Text, default="")
    note: Mapped[str] = mapped_column(Text, default="")
    evidence: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    templates: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    verdict_digest: Mapped[str | None] = mapped_column(String(64))
    workspace_version: Mapped[str | None] = mapped_column(String(16))  # the workspace snapshot that produced it
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
