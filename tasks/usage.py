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

GROUPS = {
    "agent": ModelUsage.agent,
    "flow_name": ModelUsage.flow_name,
    "workspace_version": ModelUsage.workspace_version,
}
"""What a report may group by (besides the model): the agent, the flow, or the workspace version."""


def usage_rows(*, flow_run_id: str | None = None, since: datetime | None = None, by: str = "agent") -> list[dict]:
    """Requests, tokens and cost grouped by (`by`, workspace version, provider API, model); `by` is a key of `GROUPS`.

    The workspace version is always part of the group: a change to an agent's instructions or model
    in the workspace changes what its requests cost, and a report that merged the versions would hide
    that. Rows recorded before versions existed show `-`. So is the API that answered (`api`: the
    provider's wire API and endpoint): two APIs serving the same model name bill apart, and stay two
    rows; rows recorded before the API was (migration 0009) show their provider.
    """
    if by not in GROUPS:
        raise ValueError(f"usage rows group by one of {sorted(GROUPS)}, not {by!r}")
    group = GROUPS[by]
    # with by=workspace_version the version is grouped twice: same groups, simpler code
    keys = (group, ModelUsage.workspace_version, ModelUsage.provider, ModelUsage.api, ModelUsage.model)
    query = select(
        *keys,
        func.count(ModelUsage.id),
        func.sum(ModelUsage.input_tokens),
        func.sum(ModelUsage.output_tokens),
        func.sum(ModelUsage.cost_usd),
        func.count(ModelUsage.cost_usd),
    ).group_by(*keys)
    if flow_run_id is not None:
        query = query.where(ModelUsage.flow_run_id == flow_run_id)
    if since is not None:
        query = query.where(ModelUsage.created_at >= since)
    with session_scope() as session:
        rows = session.execute(query.order_by(*keys)).all()
    return [
        {
            by: name or "-",
            "workspace_version": version or "-",
            "api": api or provider,
            "model": model,
            "requests": n,
            "input_tokens": int(tokens_in or 0),
            "output_tokens": int(tokens_out or 0),
            # a sum over requests of which some have no known price is a lower bound, and says so
            "cost_usd": None if priced == 0 else round(float(cost or 0), 6),
            "priced_requests": priced,
        }
        for name, version, provider, api, model, n, tokens_in, tokens_out, cost, priced in rows
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
