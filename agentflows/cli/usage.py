"""`agentflows usage`: what the model requests cost, read from the usage table the metered model writes.

Every row shows the workspace version that made the requests, so the cost of a workspace change
(new instructions, another model) shows beside the version before it; `--by workspace` totals by version.
Rows are per provider API too (`openai-responses`, `openai-chat@host:port`, `anthropic-messages`): two
APIs serving the same model name are two rows, as they are two bills.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from agentflows.cli.common import app, console, fail


@app.command()
def usage(
    since: Annotated[str, typer.Option(help="How far back: 30m, 24h, 7d")] = "7d",
    by: Annotated[str, typer.Option(help="Group by `flow`, `agent` or `workspace` (version)")] = "flow",
) -> None:
    """Model requests, tokens and estimated cost per flow (or agent), workspace version, provider API and model."""
    import re
    from datetime import UTC, datetime, timedelta

    from agentflows.db.migrate import upgrade
    from tasks.usage import usage_rows

    match = re.fullmatch(r"(\d+)([mhd])", since.strip())
    keys = {"flow": "flow_name", "agent": "agent", "workspace": "workspace_version"}
    if not match or by not in keys:
        raise fail("--since takes a number and a unit (30m, 24h, 7d); --by takes flow, agent or workspace")
    amount, unit = int(match[1]), match[2]
    unit_name = {"m": "minutes", "h": "hours", "d": "days"}[unit]
    start = datetime.now(UTC) - timedelta(**{unit_name: amount})
    upgrade()
    key = keys[by]
    rows = usage_rows(since=start, by=key)
    columns = (by,) if by == "workspace" else (by, "workspace")
    table = Table(*columns, "api", "model", "requests", "input tokens", "output tokens", "est. cost (USD)")
    for r in rows:
        cost = "unknown price" if r["cost_usd"] is None else f"{r['cost_usd']:.4f}"
        if r["cost_usd"] is not None and r["priced_requests"] < r["requests"]:
            cost += f" (+{r['requests'] - r['priced_requests']} unpriced)"
        tokens = f"{r['input_tokens']:,}", f"{r['output_tokens']:,}"
        names = (r[key],) if by == "workspace" else (r[key], r["workspace_version"])
        table.add_row(*names, r["api"], r["model"], f"{r['requests']:,}", *tokens, cost)
    console.print(table if rows else f"no model requests since {start:%Y-%m-%d %H:%M} UTC")
