"""CRM tables: accounts, contacts, deals, the activity history, the outbox and outreach drafts.

The activity history is both what the researcher reads and where outcomes are written back, so
one account's whole story (calls, notes, emails sent or rejected) is one query away. The outbox
is the only way an email leaves: a row per approved message, keyed by an idempotency key, so a
retry or a re-run can never send the same approval twice.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Enum, ForeignKey, Index, Integer, Numeric, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from agentflows.db.base import Base, utcnow


class Seniority(enum.StrEnum):
    C_LEVEL = "c-level"
    VP = "vp"
    DIRECTOR = "director"
    MANAGER = "manager"
    INDIVIDUAL = "individual"


class DealStage(enum.StrEnum):
    OPEN = "open"
    WON = "won"
    LOST = "lost"


class ActivityKind(enum.StrEnum):
    NOTE = "note"
    CALL = "call"
    MEETING = "meeting"
    EMAIL_SENT = "email_sent"
    EMAIL_RECEIVED = "email_received"
    OUTREACH_SENT = "outreach_sent"
    OUTREACH_REJECTED = "outreach_rejected"
    OUTREACH_TIMED_OUT = "outreach_timed_out"


class OutboxStatus(enum.StrEnum):
    PENDING = "pending"
    SENDING = "sending"  # committed before the SMTP conversation; still so after it: outcome unknown
    SENT = "sent"
    FAILED = "failed"


class Account(Base):
    __tablename__ = "accounts"

    id: Mapped[int] = mapped_column(primary_key=True)
    # The row's key in the team's own system (import and sync upsert by it); None for seeded rows.
    external_id: Mapped[str | None] = mapped_column(String(200), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    domain: Mapped[str] = mapped_column(String(200), unique=True)
    website: Mapped[str] = mapped_column(String(400))
    industry: Mapped[str] = mapped_column(String(100))
    employees: Mapped[int] = mapped_column(Integer)
    region: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    contacts: Mapped[list[Contact]] = relationship(back_populates="account")
    deals: Mapped[list[Deal]] = relationship(back_populates="account")


class Contact(Base):
    __tablename__ = "contacts"

    id: Mapped[int] = mapped_column(primary_key=True)
    # The row's key in the team's own system (import and sync upsert by it); None for seeded rows.
    external_id: Mapped[str | None] = mapped_column(String(200), unique=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    first_name: Mapped[str] = mapped_column(String(100))
    last_name: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(150))
    department: Mapped[str] = mapped_column(String(100))
    seniority: Mapped[Seniority] = mapped_column(Enum(Seniority, native_enum=False, length=20))
    email: Mapped[str] = mapped_column(String(254), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    account: Mapped[Account] = relationship(back_populates="contacts")

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}"


class Deal(Base):
    __tablename__ = "deals"

    id: Mapped[int] = mapped_column(primary_key=True)
    # The row's key in the team's own system (import and sync upsert by it); None for seeded rows.
    external_id: Mapped[str | None] = mapped_column(String(200), unique=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    product: Mapped[str] = mapped_column(String(100))
    stage: Mapped[DealStage] = mapped_column(Enum(DealStage, native_enum=False, length=10))
    amount: Mapped[float] = mapped_column(Numeric(12, 2))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    account: Mapped[Account] = relationship(back_populates="deals")


class Activity(Base):
    """One event in an account's history. Outreach outcomes carry their details in `details`."""

    __tablename__ = "activities"
    __table_args__ = (Index("ix_activities_account_time", "account_id", "occurred_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    # The row's key in the team's own system (import and sync upsert by it); None for seeded rows.
    external_id: Mapped[str | None] = mapped_column(String(200), unique=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id"), index=True)
    kind: Mapped[ActivityKind] = mapped_column(Enum(ActivityKind, native_enum=False, length=30))
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    subject: Mapped[str] = mapped_column(String(300), default="")
    body: Mapped[str] = mapped_column(Text, default="")
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # A unique key for activities written by flows, so a retried write is a no-op, not a duplicate.
    idempotency_key: Mapped[str | None] = mapped_column(String(200), unique=True)


class OutboxMessage(Base):
    """An approved email waiting to be (or already) sent. The row exists before the send."""

    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    message_id: Mapped[str] = mapped_column(String(300), unique=True)
    flow_run_id: Mapped[str | None] = mapped_column(String(64), index=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"))
    to_address: Mapped[str] = mapped_column(String(254))
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    headers: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    status: Mapped[OutboxStatus] = mapped_column(
        Enum(OutboxStatus, native_enum=False, length=10), default=OutboxStatus.PENDING
    )
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class OutreachDraft(Base):
    """The drafts shown to a reviewer for one prospect of one batch, and what the reviewer did.

    Kept in the project database (not only in Prefect) so `agentflows approvals` can show drafts,
    the approval can be checked against exactly what was shown, and later runs can learn from it.
    """

    __tablename__ = "outreach_drafts"
    __table_args__ = (UniqueConstraint("batch_run_id", "contact_id", name="uq_outreach_drafts_batch_contact"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    batch_run_id: Mapped[str] = mapped_column(String(64), index=True)  # the prospect-outreach run that drafted
    flow_run_id: Mapped[str | None] = mapped_column(String(64), unique=True)  # its approval run, once started
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"), index=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    writer: Mapped[str] = mapped_column(String(50))
    model: Mapped[str] = mapped_column(String(200))
    brief: Mapped[dict[str, Any]] = mapped_column(JSON)
    variants: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    # the reviewer examples the writer was given, so the reviewer (and `memory`) can see what shaped the drafts
    style_examples: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list, server_default="[]")
    digest: Mapped[str] = mapped_column(String(64))
    workspace_version: Mapped[str | None] = mapped_column(String(16))  # the workspace snapshot that produced it
    status: Mapped[str] = mapped_column(String(20), default="awaiting_approval")
    reviewer: Mapped[str | None] = mapped_column(String(200))
    chosen_variant: Mapped[int | None] = mapped_column(Integer)
    final_subject: Mapped[str | None] = mapped_column(String(300))
    final_body: Mapped[str | None] = mapped_column(Text)
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
