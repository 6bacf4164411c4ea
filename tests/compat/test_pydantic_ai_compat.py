"""Contracts with pydantic-ai that `agentflows/compat/pydantic_ai.py` relies on: each fails loudly when
an upgrade changes the behaviour."""

from __future__ import annotations

import asyncio
import inspect

from prefect.cache_policies import CachePolicy
from prefect.utilities.annotations import opaque
from pydantic_ai import Agent
from pydantic_ai.durable_exec.prefect import PrefectDurability
from pydantic_ai.exceptions import ModelHTTPError
from pydantic_ai.messages import ModelResponse, TextPart
from pydantic_ai.models.function import AgentInfo, FunctionModel

from agentflows.compat import pydantic_ai as compat


def test_a_model_request_knows_which_agent_sent_it():
    seen: list[str | None] = []

    def answer(messages, info: AgentInfo) -> ModelResponse:
        seen.append(compat.current_agent_name())
        return ModelResponse(parts=[TextPart("ok")])

    agent = Agent(FunctionModel(answer), name="contract-agent")
    asyncio.run(agent.run("hello"))
    assert seen == ["contract-agent"]
    assert compat.current_agent_name() is None  # outside any agent run


def test_the_inputs_cache_policy_is_a_prefect_policy_without_the_run_id():
    policy = compat.agent_inputs_cache_policy()
    assert isinstance(policy, CachePolicy)
    assert "flow_run" not in inspect.getsource(type(policy)).lower().replace("flow_run_id", "")


def test_the_durability_backend_executes_with_a_cache_key_we_can_wrap():
    backend = PrefectDurability().get_durable_operation_backend()
    parameters = inspect.signature(backend.execute).parameters
    assert "cache_key" in parameters and parameters["cache_key"].kind is inspect.Parameter.KEYWORD_ONLY

    received: dict[str, object] = {}

    async def execute(*, cache_key, **kwargs):
        received.update(cache_key=cache_key, **kwargs)
        return "done"

    backend.execute = execute
    wrapped = compat.with_opaque_inputs(backend)
    assert asyncio.run(wrapped.execute(cache_key=("messages", {"schema": 1}), name="n")) == "done"
    assert all(isinstance(value, opaque) for value in received["cache_key"])
    assert [value.unwrap() for value in received["cache_key"]] == ["messages", {"schema": 1}]
    assert received["name"] == "n"


def test_a_rebuilt_provider_error_keeps_every_field_but_the_body():
    constructor = inspect.signature(ModelHTTPError.__init__).parameters
    keyword_fields = {name for name, p in constructor.items() if p.kind is inspect.Parameter.KEYWORD_ONLY}
    assert keyword_fields == set(compat.MODEL_HTTP_ERROR_FIELDS), "ModelHTTPError gained or lost a field"

    original = ModelHTTPError(
        429,
        "gpt-x",
        {"error": "key sk-secret"},
        headers={"retry-after": "2"},
        suggested_model_id="gpt-y",
        hint="slow down",
        provider_error_code="rate_limit",
        provider_error_type="requests",
        retry_after=2.0,
        in_stream=True,
    )
    rebuilt = compat.model_http_error_with_body(original, {"error": "key ***"})
    assert type(rebuilt) is type(original)
    assert rebuilt.body == {"error": "key ***"} and "sk-secret" not in str(rebuilt)
    for name in ("status_code", "model_name", *compat.MODEL_HTTP_ERROR_FIELDS):
        assert getattr(rebuilt, name) == getattr(original, name), name


def test_a_model_request_runs_its_body_inside_the_task_whose_record_a_rerun_reads(prefect_server, monkeypatch):
    """`with_recorded_model_request_keys`: the body of a model request runs in its Prefect task, whose
    transaction holds the cache key and store; that record is what a later flow run with the same inputs
    replays, and once expired it is not replayed. Fails when pydantic-ai's backend stops passing
    `operation_id`/`body` by keyword or Prefect stops running the body inside the task's transaction."""
    from prefect import flow
    from pydantic_ai.durable_exec import ModelRequestId
    from pydantic_ai.messages import ToolCallPart

    from agents.durable import durable_agent

    backend = PrefectDurability().get_durable_operation_backend()
    parameters = inspect.signature(backend.execute).parameters
    for name in ("operation_id", "body", "cache_key"):
        assert parameters[name].kind is inspect.Parameter.KEYWORD_ONLY, name
    assert isinstance(ModelRequestId(None, streaming=False, model_name="m"), ModelRequestId)

    sent: list[int] = []

    def answer(messages, info: AgentInfo) -> ModelResponse:
        sent.append(1)
        return ModelResponse(parts=[ToolCallPart(info.output_tools[0].name, {"value": 7})])

    from pydantic import BaseModel

    class Out(BaseModel):
        value: int

    agent = durable_agent(name="contract-records", model=FunctionModel(answer), output_type=Out, instructions="x")
    records: list[tuple[object, str, object]] = []

    @flow(name="contract-records")
    async def run() -> int:
        return (await agent.run("the same prompt")).output.value

    import agents.durable as durable

    monkeypatch.setattr(durable.REQUEST_RECORDS, "record", lambda *record: records.append(record))
    assert asyncio.run(run()) == 7
    assert asyncio.run(run()) == 7
    assert len(sent) == 1 and len(records) == 1, "recorded when sent; the second run replayed the record"
    response, key, store = records[0]
    assert isinstance(response, ModelResponse) and store.exists(key)

    from datetime import UTC, datetime

    store.write(obj="expired", key=key, expiration=datetime.now(UTC))
    assert not store.exists(key)
    assert asyncio.run(run()) == 7 and len(sent) == 2, "an expired record is not replayed: the request is sent"
