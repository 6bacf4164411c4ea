"""`agentflows usage`: what the model requests cost, read from the usage table the metered model writes."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from agentflows.cli.common import app, console, fail


@app.command()
def usage(
    since: Annotated[str, typer.Option(help="How far back: 30m, 24h, 7d")] = "7d",
    by: Annotated[str, typer.Option(help="Group by `flow` or `agent`")] = "flow",
) -> None:
    """Model requests, tokens and estimated cost, by flow (or agent) and model."""
    import re
    from datetime import UTC, datetime, timedelta

    from agentflows.db.migrate import upgrade
    from tasks.usage import usage_rows

    match = re.fullmatch(r"(\d+)([mhd])", since.strip())
    if not match or by not in {"flow", "agent"}:
        raise fail("--since takes a number and a unit (30m, 24h, 7d); --by takes flow or agent")
    amount, unit = int(match[1]), match[2]
    unit_name = {"m": "minutes", "h": "hours", "d": "days"}[unit]
    start = datetime.now(UTC) - timedelta(**{unit_name: amount})
    upgrade()
    key = "flow_name" if by == "flow" else "agent"
    rows = usage_rows(since=start, by=key)
    table = Table(by, "model", "requests", "input tokens", "output tokens", "est. cost (USD)")
    for r in rows:
        cost = "unknown price" if r["cost_usd"] is None else f"{r['cost_usd']:.4f}"
        if r["cost_usd"] is not None and r["priced_requests"] < r["requests"]:
            cost += f" (+{r['requests'] - r['priced_requests']} unpriced)"
        tokens = f"{r['input_tokens']:,}", f"{r['output_tokens']:,}"
        table.add_row(r[key], r["model"], f"{r['requests']:,}", *tokens, cost)
    console.print(table if rows else f"no model requests since {start:%Y-%m-%d %H:%M} UTC")
