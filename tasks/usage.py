"""Usage reports: what a run (or a period) spent on model requests, from the `model_usage` table."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

from prefect import task
from prefect.artifacts import acreate_table_artifact
from sqlalchemy import func, select

from agentflows.db import session_scope
from agentflows.db.usage import ModelUsage
from agentflows.markdown import md_table_artifact


def usage_rows(*, flow_run_id: str | None = None, since: datetime | None = None, by: str = "agent") -> list[dict]:
    """Requests, tokens and cost grouped by (`by`, model); `by` is `agent` or `flow_name`."""
    group = ModelUsage.agent if by == "agent" else ModelUsage.flow_name
    query = select(
        group,
        ModelUsage.model,
        func.count(ModelUsage.id),
        func.sum(ModelUsage.input_tokens),
        func.sum(ModelUsage.output_tokens),
        func.sum(ModelUsage.cost_usd),
        func.count(ModelUsage.cost_usd),
    ).group_by(group, ModelUsage.model)
    if flow_run_id is not None:
        query = query.where(ModelUsage.flow_run_id == flow_run_id)
    if since is not None:
        query = query.where(ModelUsage.created_at >= since)
    with session_scope() as session:
        rows = session.execute(query.order_by(group, ModelUsage.model)).all()
    return [
        {
            by: name or "-",
            "model": model,
            "requests": n,
            "input_tokens": int(tokens_in or 0),
            "output_tokens": int(tokens_out or 0),
            # a sum over requests of which some have no known price is a lower bound, and says so
            "cost_usd": None if priced == 0 else round(float(cost or 0), 6),
            "priced_requests": priced,
        }
        for name, model, n, tokens_in, tokens_out, cost, priced in rows
    ]


@task(name="publish-usage", retries=1)
async def publish_usage(flow_run_id: str) -> list[dict[str, Any]]:
    """A table artifact on the run: model requests actually sent, tokens and estimated cost."""
    rows = await asyncio.to_thread(usage_rows, flow_run_id=flow_run_id)
    if rows:
        await acreate_table_artifact(
            table=md_table_artifact(rows),
            key="model-usage",
            description="Model requests sent by this run (replayed results are free and not counted)",
        )
    return rows
