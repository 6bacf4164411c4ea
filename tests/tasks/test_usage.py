"""Usage reports add up what was recorded, and say when a price is unknown."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from typer.testing import CliRunner

from agentflows.cli import app
from agentflows.db import session_scope
from agentflows.db.usage import ModelUsage
from tasks.usage import usage_rows


def _add(flow: str, model: str, tokens: tuple[int, int], cost: float | None, age: timedelta = timedelta()) -> None:
    with session_scope() as s:
        s.add(
            ModelUsage(
                flow_run_id="r1",
                flow_name=flow,
                agent="outreach-researcher",
                provider="openai",
                model=model,
                input_tokens=tokens[0],
                output_tokens=tokens[1],
                cost_usd=cost,
                created_at=datetime.now(UTC) - age,
            )
        )


def test_usage_by_flow_and_model(empty_db):
    _add("prospect-outreach", "gpt-4o-mini", (1000, 200), 0.0003)
    _add("prospect-outreach", "gpt-4o-mini", (500, 100), 0.0002)
    _add("prospect-outreach", "local-model", (700, 50), None)
    _add("fraud-check", "gpt-4o-mini", (300, 30), 0.0001, age=timedelta(days=30))
    rows = usage_rows(since=datetime.now(UTC) - timedelta(days=7), by="flow_name")
    assert rows == [
        {
            "flow_name": "prospect-outreach",
            "model": "gpt-4o-mini",
            "requests": 2,
            "input_tokens": 1500,
            "output_tokens": 300,
            "cost_usd": 0.0005,
            "priced_requests": 2,
        },
        {
            "flow_name": "prospect-outreach",
            "model": "local-model",
            "requests": 1,
            "input_tokens": 700,
            "output_tokens": 50,
            "cost_usd": None,
            "priced_requests": 0,
        },
    ]
    result = CliRunner().invoke(app, ["usage", "--since", "7d"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "prospect-outreach" in result.output and "unknown price" in result.output
    assert "fraud-check" not in result.output, "older than --since"
    bad = CliRunner().invoke(app, ["usage", "--since", "a week"])
    assert bad.exit_code == 2 and "30m, 24h, 7d" in bad.output
