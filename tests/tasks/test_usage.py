"""Usage reports add up what was recorded, and say when a price is unknown."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from typer.testing import CliRunner

from agentflows.cli import app
from agentflows.db import session_scope
from agentflows.db.usage import ModelUsage
from tasks.usage import usage_rows


def _add(
    flow: str,
    model: str,
    tokens: tuple[int, int],
    cost: float | None,
    age: timedelta = timedelta(),
    version: str | None = None,
    api: str | None = "openai-responses",
    provider: str = "openai",
) -> None:
    with session_scope() as s:
        s.add(
            ModelUsage(
                flow_run_id="r1",
                flow_name=flow,
                agent="outreach-researcher",
                workspace_version=version,
                provider=provider,
                api=api,
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
            "workspace_version": "-",
            "api": "openai-responses",
            "model": "gpt-4o-mini",
            "requests": 2,
            "input_tokens": 1500,
            "output_tokens": 300,
            "cost_usd": 0.0005,
            "priced_requests": 2,
        },
        {
            "flow_name": "prospect-outreach",
            "workspace_version": "-",
            "api": "openai-responses",
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


def test_usage_by_workspace_version(empty_db):
    """A workspace change's cost shows apart from the version before it, per flow and in total."""
    _add("landing-plan", "gpt-4o-mini", (1000, 200), 0.0003, version="aaaaaaaaaaaa")
    _add("landing-plan", "gpt-4o-mini", (2000, 400), 0.0006, version="bbbbbbbbbbbb")
    _add("landing-plan", "gpt-4o-mini", (500, 100), 0.0001, version="bbbbbbbbbbbb")
    _add("prospect-outreach", "gpt-4o-mini", (300, 30), 0.0001, version="bbbbbbbbbbbb")
    by_flow = usage_rows(by="flow_name")
    assert [(r["flow_name"], r["workspace_version"], r["requests"], r["input_tokens"]) for r in by_flow] == [
        ("landing-plan", "aaaaaaaaaaaa", 1, 1000),
        ("landing-plan", "bbbbbbbbbbbb", 2, 2500),
        ("prospect-outreach", "bbbbbbbbbbbb", 1, 300),
    ]
    totals = usage_rows(by="workspace_version")
    assert [(r["workspace_version"], r["requests"], r["cost_usd"]) for r in totals] == [
        ("aaaaaaaaaaaa", 1, 0.0003),
        ("bbbbbbbbbbbb", 3, 0.0008),
    ]
    shown = CliRunner().invoke(app, ["usage", "--by", "flow"], env={"COLUMNS": "200"})
    assert shown.exit_code == 0, shown.output
    assert "workspace" in shown.output and "aaaaaaaaaaaa" in shown.output and "bbbbbbbbbbbb" in shown.output
    grouped = CliRunner().invoke(app, ["usage", "--by", "workspace"], env={"COLUMNS": "200"})
    assert grouped.exit_code == 0, grouped.output
    line = next(ln for ln in grouped.output.splitlines() if "bbbbbbbbbbbb" in ln)
    cells = [c.strip() for c in line.strip().strip("│").split("│")]
    assert cells == ["bbbbbbbbbbbb", "openai-responses", "gpt-4o-mini", "3", "2,800", "530", "0.0008"]


def test_two_apis_serving_one_model_name_are_two_rows(empty_db):
    """Responses and Chat Completions, or two compatible servers, bill apart: `usage` never merges them."""
    _add("prospect-outreach", "gpt-4.1-mini", (1000, 100), 0.0004, api="openai-responses")
    _add("prospect-outreach", "gpt-4.1-mini", (2000, 200), 0.0008, api="openai-chat")
    _add(
        "prospect-outreach",
        "gpt-4.1-mini",
        (400, 40),
        None,
        api="openai-chat@10.0.0.5:8000",
        provider="openai-compatible",
    )
    _add("prospect-outreach", "gpt-4.1-mini", (300, 30), 0.0001, api=None)  # recorded before migration 0009
    rows = usage_rows(by="flow_name")
    assert {r["api"]: (r["requests"], r["input_tokens"], r["cost_usd"]) for r in rows} == {
        "openai-responses": (1, 1000, 0.0004),
        "openai-chat": (1, 2000, 0.0008),
        "openai-chat@10.0.0.5:8000": (1, 400, None),
        "openai": (1, 300, 0.0001),  # no API recorded: its provider stands in
    }
    assert len(rows) == 4
    shown = CliRunner().invoke(app, ["usage"], env={"COLUMNS": "200"})
    assert shown.exit_code == 0, shown.output
    lines = [ln for ln in shown.output.splitlines() if "gpt-4.1-mini" in ln]
    assert len(lines) == 4 and any("openai-chat@10.0.0.5:8000" in ln for ln in lines)
