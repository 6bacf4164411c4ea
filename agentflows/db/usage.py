"""Model usage: one row per model request actually sent (never for a result replayed from cache),
so the table adds up to what the provider will bill."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Float, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from agentflows.db.base import Base, utcnow


class ModelUsage(Base):
    __tablename__ = "model_usage"
    __table_args__ = (Index("ix_model_usage_created_at", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    flow_run_id: Mapped[str | None] = mapped_column(String(64), index=True)
    flow_name: Mapped[str | None] = mapped_column(String(100))
    task_run_id: Mapped[str | None] = mapped_column(String(64))
    agent: Mapped[str | None] = mapped_column(String(100))
    workspace_version: Mapped[str | None] = mapped_column(String(16))  # the workspace snapshot that produced it
    provider: Mapped[str] = mapped_column(String(50))
    # The wire API and, for a configured base URL, its host: `openai-responses`, `openai-chat@10.0.0.5:8000`,
    # `anthropic-messages`, `offline`. Two APIs serving one model name are two rows of `agentflows usage`.
    api: Mapped[str | None] = mapped_column(String(200))
    model: Mapped[str] = mapped_column(String(200))
    input_tokens: Mapped[int] = mapped_column(Integer, default=0)
    output_tokens: Mapped[int] = mapped_column(Integer, default=0)
    cache_read_tokens: Mapped[int] = mapped_column(Integer, default=0)
    cache_write_tokens: Mapped[int] = mapped_column(Integer, default=0)
    cost_usd: Mapped[float | None] = mapped_column(Float)  # None: no known price for this model
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
