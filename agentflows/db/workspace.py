"""Workspace snapshots and the reviewed changes between them.

A snapshot row holds every file's text, so an output's `workspace_version` can always be opened
again (`agentflows workspace show VERSION`) and rolled back to, even after the folder moved on.
`live_at` marks snapshots that were (or are) the one runs use: the newest such row is the last valid
workspace, which a run falls back to when the folder holds an invalid edit.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from agentflows.db.base import Base, utcnow


class WorkspaceSnapshot(Base):
    __tablename__ = "workspace_snapshots"

    id: Mapped[str] = mapped_column(String(16), primary_key=True)  # `agentflows.workspace.Snapshot.id`
    files: Mapped[dict[str, str]] = mapped_column(JSON)  # path -> text
    manifest: Mapped[dict[str, str]] = mapped_column(JSON)  # path -> version
    source: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    live_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), index=True)


class WorkspaceChange(Base):
    """One `workspace-change` run: a proposal, the evaluation it got, and who decided."""

    __tablename__ = "workspace_changes"

    id: Mapped[int] = mapped_column(primary_key=True)
    flow_run_id: Mapped[str] = mapped_column(String(64), unique=True)
    proposal: Mapped[str] = mapped_column(Text)  # the folder proposed
    base_version: Mapped[str | None] = mapped_column(String(16))  # what was active when it was evaluated
    proposed_version: Mapped[str | None] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(20), default="evaluating")  # evaluating, awaiting_approval, ...
    changes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # path -> added/changed/removed
    reviewer: Mapped[str | None] = mapped_column(String(200))
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
