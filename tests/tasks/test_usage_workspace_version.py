"""Usage rows carry the workspace version of the run that sent the request.

The metered model reads the version from `agentflows.workspace_context` inside the model-request
task, so the flow's `using_workspace` block must reach every kind of Prefect task run: sync and
async, awaited and submitted, and threads. Runs against the session's Prefect server.
"""

from __future__ import annotations

import asyncio

import pytest
from prefect import flow, task
from prefect.runtime import flow_run
from pydantic import BaseModel
from pydantic_ai.messages import ModelMessage, ModelResponse, ToolCallPart
from pydantic_ai.models.function import AgentInfo, FunctionModel
from sqlalchemy import select

from agentflows.db import session_scope
from agentflows.db.usage import ModelUsage
from agentflows.workspace_context import current_workspace_version, using_workspace

pytestmark = pytest.mark.e2e


@task
def sync_version() -> str | None:
    return current_workspace_version()


@task
async def async_version() -> str | None:
    return current_workspace_version()


@task
def sync_version_of(_item: int) -> str | None:
    return current_workspace_version()


@flow
async def async_flow(version: str) -> dict[str, str | None]:
    seen: dict[str, str | None] = {"flow, before the block": current_workspace_version()}
    with using_workspace(version):
        seen["sync task"] = sync_version()
        seen["sync task, submitted"] = sync_version.submit().result()
        seen["async task"] = await async_version()
        seen["async task, submitted"] = async_version.submit().result()
        seen["gathered"], _ = await asyncio.gather(async_version(), async_version())
        seen["thread"] = await asyncio.to_thread(current_workspace_version)
    seen["flow, after the block"] = current_workspace_version()
    return seen


@flow
def sync_flow(version: str) -> dict[str, object]:
    with using_workspace(version):
        return {
            "sync task": sync_version(),
            "sync task, submitted": sync_version.submit().result(),
            "mapped": sorted(set(sync_version_of.map([1, 2, 3]).result())),
        }


def test_the_version_reaches_every_kind_of_task_run(prefect_server):
    seen = asyncio.run(async_flow("v-async"))
    assert seen.pop("flow, before the block") is None and seen.pop("flow, after the block") is None
    assert seen == dict.fromkeys(seen, "v-async") and len(seen) == 6
    assert sync_flow("v-sync") == {"sync task": "v-sync", "sync task, submitted": "v-sync", "mapped": ["v-sync"]}
    assert current_workspace_version() is None, "nothing leaks out of the flows"


class Answer(BaseModel):
    text: str


def _answer(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
    return ModelResponse(parts=[ToolCallPart(info.output_tools[0].name, {"text": "ok"})])


@flow
async def metered_flow(version: str) -> str:
    from agents.durable import durable_agent
    from agents.metered import MeteredModel

    agent = durable_agent(
        name=f"usage-probe-{version}",
        model=MeteredModel(FunctionModel(_answer, model_name="probe"), "probe"),
        output_type=Answer,
        instructions="Answer.",
    )
    with using_workspace(version):
        await agent.run("hello")
        await agent.run("hello again")
    return str(flow_run.id)


def test_usage_rows_carry_their_own_runs_version(prefect_server, empty_db):
    """Two runs in one process at once, on two versions: each row has its own run's version."""

    async def both() -> list[str]:
        return list(await asyncio.gather(metered_flow("aaaaaaaaaaaa"), metered_flow("bbbbbbbbbbbb")))

    runs = asyncio.run(both())
    with session_scope() as session:
        rows = session.execute(select(ModelUsage.flow_run_id, ModelUsage.workspace_version, ModelUsage.agent)).all()
    expected = [(run, v, f"usage-probe-{v}") for run, v in zip(runs, ["aaaaaaaaaaaa", "bbbbbbbbbbbb"], strict=True)]
    assert sorted(rows) == sorted(expected * 2)
