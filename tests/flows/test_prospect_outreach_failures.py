"""Prospect outreach failure paths: bad ids stop before any work, a writer that never produces
valid drafts fails the prospect without sending anything, and an approval that never comes times
out with the outcome logged."""

from __future__ import annotations

import asyncio

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterName
from pydantic_ai.messages import ModelResponse, ToolCallPart
from pydantic_ai.models.function import AgentInfo, FunctionModel
from sqlalchemy import func, select

from agentflows.db import session_scope
from agentflows.db.crm import Activity, ActivityKind, OutboxMessage, OutreachDraft
from agentflows.settings import get_settings
from agents import offline
from agents.outreach import writers
from agents.workspace.routing import rule_route
from tasks.crm import UnknownProspectsError, load_profiles_sync
from tests.agents.outreach_data import shipped_workspace

pytestmark = pytest.mark.e2e


async def _runs_named(prefix: str) -> int:
    async with get_client() as client:
        runs = await client.read_flow_runs(flow_run_filter=FlowRunFilter(name=FlowRunFilterName(like_=prefix)))
    return len(runs)


def test_unknown_prospects_fail_before_any_work(prefect_server, seeded_db):
    from flows.prospect_outreach import prospect_outreach

    before = asyncio.run(_runs_named("outreach-approval"))
    with pytest.raises(UnknownProspectsError, match=r"unknown prospect ids: \[424242, 525252\]"):
        asyncio.run(prospect_outreach([1, 424242, 525252]))
    assert asyncio.run(_runs_named("outreach-approval")) == before, "no approval run was started"
    with session_scope() as s:
        assert s.scalar(select(func.count(OutreachDraft.id))) == 0


def _executive_prospect() -> int:
    profiles = load_profiles_sync(list(range(1, 200)))
    writers_ = list(shipped_workspace().writers.values())
    return next(i for i, p in sorted(profiles.items()) if rule_route(p, writers_).writer == "new-logo-executive")


def test_writer_that_never_validates_sends_nothing(prefect_server, seeded_db, smtp_sink, monkeypatch):
    from flows.prospect_outreach import prospect_outreach

    def placeholder_drafts(messages, info: AgentInfo) -> ModelResponse:
        output = offline.compose(offline.latest_user_prompt(messages))
        for variant in output["variants"]:
            variant["body"] = "Hi [First Name], " + variant["body"]
        return ModelResponse(parts=[ToolCallPart(info.output_tools[0].name, output)])

    prospect = _executive_prospect()
    broken = writers.build_writer(shipped_workspace().writers["new-logo-executive"], FunctionModel(placeholder_drafts))
    monkeypatch.setattr(writers, "writer", lambda file, spec: broken)
    with pytest.raises(RuntimeError) as info:
        asyncio.run(prospect_outreach([prospect]))
    assert "1 of 1 prospects failed" in str(info.value)
    assert "gave up after 3 attempts" in str(info.value) and "unfilled placeholder" in str(info.value)
    assert smtp_sink.messages == []
    with session_scope() as s:
        assert s.scalar(select(func.count(OutboxMessage.id))) == 0
        assert s.scalar(select(func.count(OutreachDraft.id))) == 0


def test_approval_timeout_is_logged_and_sends_nothing(prefect_server, seeded_db, smtp_sink, monkeypatch):
    from flows.prospect_outreach import prospect_outreach

    monkeypatch.setenv("AGENTFLOWS_APPROVAL_TIMEOUT_S", "2")
    get_settings.cache_clear()
    prospect = _executive_prospect()
    [outcome] = asyncio.run(prospect_outreach([prospect])).outcomes
    assert outcome.outcome == "timed_out" and outcome.message_id is None
    assert smtp_sink.messages == []
    with session_scope() as s:
        kinds = list(
            s.scalars(select(Activity.kind).where(Activity.contact_id == prospect, Activity.kind.like("outreach%")))
        )
        draft = s.scalar(select(OutreachDraft).where(OutreachDraft.contact_id == prospect))
        assert s.scalar(select(func.count(OutboxMessage.id))) == 0
    assert kinds == [ActivityKind.OUTREACH_TIMED_OUT]
    assert draft.status == "timed_out"
