"""Tests of the fake provider itself, through the real ``openai``/``anthropic`` SDKs and real pydantic-ai
agents.

Every assertion is about something a broken fake would get wrong: the output must validate, the server must
see exactly the requests the SDK retry policy implies, and the exception classes must be the SDKs' own. One
server is shared by the module (startup is the slow part); each test resets its faults, responder and
counters.
"""

from __future__ import annotations

import asyncio
import functools
import json
import os
import time
from collections.abc import Callable, Coroutine, Iterator
from enum import StrEnum
from typing import Any, Literal, Protocol

import anthropic
import httpx
import openai
import pytest
from agentflows_fake_provider import (
    Api,
    FakeProvider,
    FakeProviderProcess,
    FakeReply,
    FakeRequest,
    FaultConfig,
    FaultEngine,
    example_from_schema,
    invalid_from_schema,
)
from pydantic import BaseModel, Field, ValidationError
from pydantic_ai import Agent, NativeOutput
from pydantic_ai.exceptions import (
    ModelConnectionError,
    ModelHTTPError,
    ModelOverloadedError,
    ModelRateLimitError,
    ModelServerError,
    ModelTimeoutError,
    ModelUnavailableError,
)

APIS: list[Api] = ["openai-chat", "openai-responses", "anthropic"]


class City(BaseModel):
    """The structured output used throughout: small, but with a list and a constrained int."""

    name: str
    population: int = Field(ge=0)
    tags: list[str]


@pytest.fixture(scope="module")
def provider() -> Iterator[FakeProvider]:
    with FakeProvider() as fp:
        yield fp


@pytest.fixture
def fp(provider: FakeProvider) -> FakeProvider:
    provider.set_faults(None)
    provider.set_responder(None)
    provider.reset_stats()
    return provider


def run_async(fn: Callable[..., Coroutine[Any, Any, None]]) -> Callable[..., None]:
    """Run an async test body with ``asyncio.run`` (the project has no pytest async plugin).

    ``functools.wraps`` keeps the signature visible to pytest, so fixtures and parametrize still work.
    """

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        asyncio.run(fn(*args, **kwargs))

    return wrapper


class ModelSource(Protocol):
    def model(self, api: Api, model_name: str | None = None, *, max_retries: int = 0, timeout: float = 30.0) -> Any: ...


def city_agent(
    fp: ModelSource, api: Api, *, max_retries: int = 0, timeout: float = 10.0, model_name: str | None = None
) -> Agent[None, City]:
    """A pydantic-ai agent with tool output (the default mode) plus one function tool."""
    model = fp.model(api, model_name, max_retries=max_retries, timeout=timeout)
    agent = Agent(model, output_type=City, instructions="Be brief.")

    @agent.tool_plain
    def get_population(city: str) -> int:
        """Look up a city's population."""
        return {"Paris": 2_100_000}.get(city, 1)

    return agent


# -- structured output and tool round trip -------------------------------------------------------------------


@pytest.mark.parametrize("api", APIS)
def test_structured_output_validates(fp: FakeProvider, api: Api) -> None:
    result = city_agent(fp, api).run_sync("Tell me about a city.")

    assert isinstance(result.output, City)
    stats = fp.stats
    assert stats.total_requests == 1 and stats.successes == 1
    assert stats.by_api == {api: 1}
    request = fp.requests[-1]
    assert request.api == api
    assert request.system == "Be brief."
    assert request.last_user_text == "Tell me about a city."
    assert [t.name for t in request.tools] == ["get_population", "final_result"]
    assert set(request.tool("final_result").parameters["required"]) == {"name", "population", "tags"}


def tool_then_answer(request: FakeRequest) -> FakeReply:
    """Call get_population first; once its result is in the conversation, answer with it."""
    results = request.tool_results("get_population")
    if not results:
        return FakeReply(tool_calls=[("get_population", {"city": "Paris"})])
    return FakeReply(
        tool_calls=[("final_result", {"name": "Paris", "population": int(results[-1]["content"]), "tags": ["fr"]})]
    )


@pytest.mark.parametrize("api", APIS)
def test_function_tool_round_trip(fp: FakeProvider, api: Api) -> None:
    fp.set_responder(tool_then_answer)

    result = city_agent(fp, api).run_sync("How many people live in Paris?")

    assert result.output == City(name="Paris", population=2_100_000, tags=["fr"])
    assert fp.stats.total_requests == 2
    second = fp.requests[-1]
    [call] = second.tool_calls("get_population")
    [returned] = second.tool_results("get_population")
    assert call["arguments"] == {"city": "Paris"}
    assert returned["id"] == call["id"] and returned["content"] == "2100000"


def test_responses_previous_response_id_chain(fp: FakeProvider) -> None:
    """With `openai_previous_response_id='auto'` pydantic-ai sends only new items; the server fills in the
    rest."""
    fp.set_responder(tool_then_answer)
    agent = city_agent(fp, "openai-responses")

    result = agent.run_sync("How many in Paris?", model_settings={"openai_previous_response_id": "auto"})

    assert result.output.population == 2_100_000
    second = fp.requests[-1]
    assert second.raw["previous_response_id"]
    # Only the function_call_output went over the wire.
    assert [item["type"] for item in second.raw["input"]] == ["function_call_output"]
    assert [m["role"] for m in second.messages] == ["user", "tool_call", "tool_result"]
    assert second.last_user_text == "How many in Paris?"


def test_unknown_previous_response_id_is_a_400(fp: FakeProvider) -> None:
    with httpx.Client(base_url=fp.openai_base_url) as client:
        response = client.post("/responses", json={"model": "m", "input": "x", "previous_response_id": "resp_nope"})
    assert response.status_code == 400
    assert response.json()["error"]["type"] == "invalid_request_error"


@run_async
async def test_async_responder_is_awaited(fp: FakeProvider) -> None:
    async def responder(request: FakeRequest) -> FakeReply:
        await asyncio.sleep(0.01)
        return FakeReply(tool_calls=[("final_result", {"name": "Async", "population": 7, "tags": []})])

    fp.set_responder(responder)
    result = await city_agent(fp, "openai-chat").run("x")
    assert result.output.name == "Async"


# -- retries driven by scripted faults -----------------------------------------------------------------------


@pytest.mark.parametrize("api", APIS)
def test_scripted_429_is_retried_after_retry_after(fp: FakeProvider, api: Api) -> None:
    fp.set_faults(script=["429", "ok"], retry_after_s=0.05)

    started = time.monotonic()
    result = city_agent(fp, api, max_retries=2).run_sync("x")
    elapsed = time.monotonic() - started

    assert isinstance(result.output, City)
    stats = fp.stats
    assert stats.total_requests == 2 and stats.successes == 1
    assert stats.faults == {"429": 1}
    assert [e.status for e in stats.log] == [429, 200]
    # Without honouring `retry-after-ms: 50` the SDKs would back off >= 0.375 s.
    assert elapsed < 0.35


@pytest.mark.parametrize("api", ["openai-chat", "anthropic"])
def test_529_then_503_then_success(fp: FakeProvider, api: Api) -> None:
    fp.set_faults(script=["529", "503", "ok"], retry_after_s=0.01)

    result = city_agent(fp, api, max_retries=2).run_sync("x")

    assert isinstance(result.output, City)
    assert [e.status for e in fp.stats.log] == [529, 503, 200]
    assert fp.stats.faults == {"529": 1, "503": 1}


def test_fail_first_n(fp: FakeProvider) -> None:
    fp.set_faults(fail_first_n=2, fail_kind="500", retry_after_s=0.01)

    result = city_agent(fp, "openai-responses", max_retries=2).run_sync("x")

    assert isinstance(result.output, City)
    assert [e.status for e in fp.stats.log] == [500, 500, 200]


def test_x_should_retry_false_stops_sdk_retries(fp: FakeProvider) -> None:
    fp.set_faults(script=["500", "ok"], should_retry=False)

    with pytest.raises(ModelServerError):
        city_agent(fp, "anthropic", max_retries=3).run_sync("x")
    assert fp.stats.total_requests == 1


OPENAI_ERRORS: dict[str, type[openai.APIStatusError]] = {
    "429": openai.RateLimitError,
    "500": openai.InternalServerError,
    "503": openai.InternalServerError,
    "529": openai.InternalServerError,
}
ANTHROPIC_ERRORS: dict[str, type[anthropic.APIStatusError]] = {
    "429": anthropic.RateLimitError,
    "500": anthropic.InternalServerError,
    "503": anthropic.InternalServerError,
    "529": anthropic.OverloadedError,
}
PYDANTIC_AI_ERRORS: dict[str, type[ModelHTTPError] | type[Exception]] = {
    "429": ModelRateLimitError,
    "500": ModelServerError,
    "503": ModelUnavailableError,
    "529": ModelOverloadedError,
}


@pytest.mark.parametrize("kind", ["429", "500", "503", "529"])
@run_async
async def test_error_bodies_raise_the_sdks_own_exceptions(fp: FakeProvider, kind: str) -> None:
    fp.set_faults(script=[kind, kind, kind], retry_after_s=0.01)

    with pytest.raises(OPENAI_ERRORS[kind]) as openai_error:
        await fp.openai_client(max_retries=0).chat.completions.create(
            model="gpt-fake", messages=[{"role": "user", "content": "hi"}]
        )
    assert openai_error.value.status_code == int(kind)
    assert isinstance(openai_error.value.body, dict) and openai_error.value.body["message"]

    with pytest.raises(ANTHROPIC_ERRORS[kind]) as anthropic_error:
        await fp.anthropic_client(max_retries=0).messages.create(
            model="claude-fake", max_tokens=10, messages=[{"role": "user", "content": "hi"}]
        )
    assert anthropic_error.value.status_code == int(kind)
    assert anthropic_error.value.body["type"] == "error"

    with pytest.raises(PYDANTIC_AI_ERRORS[kind]):
        await city_agent(fp, "openai-responses").run("x")
    assert fp.stats.faults == {kind: 3}


# -- invalid tool arguments -> pydantic-ai validation retry --------------------------------------------------


@pytest.mark.parametrize("api", APIS)
def test_invalid_json_triggers_output_validation_retry(fp: FakeProvider, api: Api) -> None:
    fp.set_faults(script=["invalid_json", "ok"])

    result = city_agent(fp, api).run_sync("x")

    assert isinstance(result.output, City)
    stats = fp.stats
    assert stats.total_requests == 2 and stats.successes == 2
    assert stats.faults == {"invalid_json": 1}
    [retry_prompt] = fp.requests[-1].tool_results("final_result")
    # The model is told what was wrong with its arguments (pydantic's errors), on every wire format.
    assert any(word in retry_prompt["content"] for word in ("json_invalid", "string_type", "int_parsing"))


def test_p_invalid_json_exhausts_output_retries(fp: FakeProvider) -> None:
    fp.set_faults(p_invalid_json=1.0)

    with pytest.raises(Exception, match="retries"):
        city_agent(fp, "openai-chat").run_sync("x")
    assert fp.stats.faults["invalid_json"] == fp.stats.total_requests >= 2


# -- rate limits and concurrency -----------------------------------------------------------------------------


def test_rpm_limit_rejects_the_sixth_rapid_request(fp: FakeProvider) -> None:
    fp.set_faults(rpm_limit=5)
    body = {"model": "gpt-fake", "messages": [{"role": "user", "content": "hi"}]}

    with httpx.Client(base_url=fp.openai_base_url) as client:
        responses = [client.post("/chat/completions", json=body) for _ in range(6)]

    assert [r.status_code for r in responses] == [200] * 5 + [429]
    limited = responses[-1]
    assert 0 < int(limited.headers["retry-after"]) <= 60
    assert 0 < int(limited.headers["retry-after-ms"]) <= 60_000
    assert limited.json()["error"]["code"] == "rate_limit_exceeded"
    assert fp.stats.rate_limited == 1 and fp.stats.successes == 5


@run_async
async def test_rpm_limit_surfaces_as_sdk_rate_limit_error(fp: FakeProvider) -> None:
    fp.set_faults(rpm_limit=1)
    client = fp.anthropic_client(max_retries=0)
    kwargs: dict[str, Any] = {
        "model": "claude-fake",
        "max_tokens": 5,
        "messages": [{"role": "user", "content": "x"}],
    }

    await client.messages.create(**kwargs)
    with pytest.raises(anthropic.RateLimitError) as error:
        await client.messages.create(**kwargs)
    assert float(error.value.response.headers["retry-after-ms"]) > 50_000


@run_async
async def test_max_concurrency_rejects_excess_in_flight_requests(fp: FakeProvider) -> None:
    fp.set_faults(max_concurrency=2, latency_ms=300)
    body = {"model": "gpt-fake", "input": "hi"}

    async with httpx.AsyncClient(base_url=fp.openai_base_url) as client:
        responses = await asyncio.gather(*(client.post("/responses", json=body) for _ in range(4)))

    assert sorted(r.status_code for r in responses) == [200, 200, 429, 429]
    assert fp.stats.rate_limited == 2


@run_async
async def test_sustains_fifty_concurrent_requests_with_latency(fp: FakeProvider) -> None:
    fp.set_faults(latency_ms=500)
    body = {"model": "claude-fake", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]}

    limits = httpx.Limits(max_connections=100)
    async with httpx.AsyncClient(base_url=fp.anthropic_base_url, limits=limits, timeout=10) as client:
        started = time.monotonic()
        responses = await asyncio.gather(*(client.post("/v1/messages", json=body) for _ in range(60)))
        elapsed = time.monotonic() - started

    assert all(r.status_code == 200 for r in responses)
    assert elapsed < 2.0  # 60 x 0.5 s serially would be 30 s
    assert fp.stats.max_in_flight >= 50


def test_latency_is_applied(fp: FakeProvider) -> None:
    fp.set_faults(latency_ms=200)
    started = time.monotonic()
    city_agent(fp, "openai-chat").run_sync("x")
    assert time.monotonic() - started >= 0.2


# -- transport faults ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("api", APIS)
@run_async
async def test_drop_raises_connection_error_without_retries(fp: FakeProvider, api: Api) -> None:
    fp.set_faults(script=["drop"])

    with pytest.raises(ModelConnectionError) as error:
        await city_agent(fp, api, max_retries=0).run("x")

    assert isinstance(error.value.__cause__, openai.APIConnectionError | anthropic.APIConnectionError)
    assert fp.stats.faults == {"drop": 1}
    assert fp.stats.log[-1].status == 0


@run_async
async def test_drop_is_retried_by_the_sdk(fp: FakeProvider) -> None:
    fp.set_faults(script=["drop", "ok"])
    result = await city_agent(fp, "anthropic", max_retries=1).run("x")
    assert isinstance(result.output, City)
    assert fp.stats.total_requests == 2


@run_async
async def test_timeout_fault_hangs_until_client_gives_up(fp: FakeProvider) -> None:
    fp.set_faults(script=["timeout"], timeout_hang_s=10)
    client = fp.openai_client(max_retries=0, timeout=0.5)

    started = time.monotonic()
    with pytest.raises(openai.APITimeoutError):
        await client.chat.completions.create(model="gpt-fake", messages=[{"role": "user", "content": "hi"}])
    assert 0.5 <= time.monotonic() - started < 2

    # The server notices the disconnect and stops hanging instead of sleeping the full 10 s.
    deadline = time.monotonic() + 2
    while not fp.stats.log and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    [entry] = fp.stats.log
    assert entry.fault == "timeout" and entry.status == 0 and entry.duration_s < 2


@run_async
async def test_client_giving_up_during_latency_is_not_billed(fp: FakeProvider) -> None:
    fp.set_faults(latency_ms=800)
    with pytest.raises(openai.APITimeoutError):
        await fp.openai_client(timeout=0.3).chat.completions.create(
            model="gpt-fake", messages=[{"role": "user", "content": "hi"}]
        )
    deadline = time.monotonic() + 2
    while not fp.stats.log and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    [entry] = fp.stats.log
    assert (entry.status, entry.fault, entry.input_tokens) == (0, None, 0)
    assert fp.stats.successes == 0 and fp.stats.input_tokens == 0


@run_async
async def test_timeout_maps_to_pydantic_ai_timeout_error(fp: FakeProvider) -> None:
    fp.set_faults(p_timeout=1.0, timeout_hang_s=5)
    with pytest.raises(ModelTimeoutError):
        await city_agent(fp, "anthropic", timeout=0.3).run("x")


# -- token accounting ----------------------------------------------------------------------------------------


@run_async
async def test_token_counters_equal_usage_reported_to_clients(fp: FakeProvider) -> None:
    fp.set_responder(tool_then_answer)
    input_tokens = output_tokens = 0
    for api in APIS:
        result = await city_agent(fp, api).run("How many people live in Paris?")
        input_tokens += result.usage.input_tokens
        output_tokens += result.usage.output_tokens
    completion = await fp.openai_client().chat.completions.create(
        model="gpt-fake", messages=[{"role": "user", "content": "x" * 400}]
    )
    assert completion.usage is not None and completion.usage.prompt_tokens == 100
    input_tokens += completion.usage.prompt_tokens
    output_tokens += completion.usage.completion_tokens

    stats = fp.stats
    assert stats.total_requests == 7
    assert (stats.input_tokens, stats.output_tokens) == (input_tokens, output_tokens)
    assert sum(e.input_tokens for e in stats.log) == input_tokens


@run_async
async def test_reply_can_override_token_counts(fp: FakeProvider) -> None:
    fp.set_responder(lambda request: FakeReply(text="hello", input_tokens=1234, output_tokens=56))
    message = await fp.anthropic_client().messages.create(
        model="claude-fake", max_tokens=5, messages=[{"role": "user", "content": "x"}]
    )
    assert (message.usage.input_tokens, message.usage.output_tokens) == (1234, 56)
    assert message.content[0].text == "hello"  # type: ignore[union-attr]
    assert (fp.stats.input_tokens, fp.stats.output_tokens) == (1234, 56)


# -- streaming and native output -----------------------------------------------------------------------------


@run_async
async def test_anthropic_known_model_streams_behind_the_scenes(fp: FakeProvider) -> None:
    """pydantic-ai streams plain `agent.run` for Claude models whose max output exceeds the SDK's limit."""
    fp.set_responder(tool_then_answer)
    result = await city_agent(fp, "anthropic", model_name="claude-sonnet-4-5").run("How many in Paris?")
    assert result.output.population == 2_100_000
    assert isinstance(result.output, City)
    assert fp.requests[-1].stream is True
    assert result.usage.input_tokens == fp.stats.input_tokens


@pytest.mark.parametrize("api", APIS)
@run_async
async def test_run_stream(fp: FakeProvider, api: Api) -> None:
    agent = city_agent(fp, api)
    async with agent.run_stream("x") as run:
        output = await run.get_output()
    assert isinstance(output, City)
    assert fp.requests[-1].stream is True


@pytest.mark.parametrize("api", ["openai-chat", "openai-responses"])
def test_native_output_gets_json_text(fp: FakeProvider, api: Api) -> None:
    agent = Agent(fp.model(api), output_type=NativeOutput(City))
    result = agent.run_sync("x")
    assert isinstance(result.output, City)
    assert fp.requests[-1].output_schema is not None


# -- control plane, determinism, subprocess ------------------------------------------------------------------


def test_http_control_endpoints(fp: FakeProvider) -> None:
    with httpx.Client(base_url=fp.base_url) as client:
        applied = client.post("/_control/faults", json={"script": ["500"], "retry_after_s": 0.2}).json()
        assert applied["script"] == ["500"]
        assert client.post("/_control/faults", json={"p_429": 2}).status_code == 422
        response = client.post("/v1/chat/completions", json={"model": "m", "messages": [{"role": "user"}]})
        assert response.status_code == 500
        stats = client.get("/_control/stats").json()
    assert stats["total_requests"] == 1 and stats["faults"] == {"500": 1}
    assert stats["log"][0]["status"] == 500


def test_probabilistic_faults_are_seeded() -> None:
    config = FaultConfig(seed=42, p_429=0.2, p_500=0.1, p_drop=0.1)

    def run() -> list[str]:
        engine = FaultEngine(config)
        return [engine.decide().kind for _ in range(1000)]

    first, second = run(), run()
    assert first == second
    assert 150 < first.count("429") < 250
    assert 60 < first.count("500") < 140
    assert 500 < first.count("ok") < 700
    assert run() != [FaultEngine(config.model_copy(update={"seed": 7})).decide().kind for _ in range(1000)]


def test_fault_config_validation() -> None:
    with pytest.raises(ValidationError):
        FaultConfig(p_429=0.7, p_500=0.7)
    with pytest.raises(ValidationError):
        FaultConfig(script=["418"])  # type: ignore[list-item]
    with pytest.raises(ValidationError):
        FaultConfig(fail_kind="ok")


def test_subprocess_provider() -> None:
    faults = FaultConfig(script=["429", "ok"], retry_after_s=0.01, latency_ms=20)
    with FakeProviderProcess(faults) as proc:
        assert proc.pid != os.getpid()
        result = city_agent(proc, "anthropic", max_retries=1).run_sync("x")
        assert isinstance(result.output, City)
        stats = proc.stats
        assert stats.total_requests == 2 and stats.faults == {"429": 1}
        proc.set_faults(rpm_limit=1)
        proc.reset_stats()
        with httpx.Client(base_url=proc.openai_base_url) as client:
            body = {"model": "gpt-fake", "messages": [{"role": "user", "content": "hi"}]}
            assert [client.post("/chat/completions", json=body).status_code for _ in range(2)] == [200, 429]
        assert proc.stats.rate_limited == 1


def test_cli_flags_override_faults_json() -> None:
    from agentflows_fake_provider.server import build_parser, faults_from_args

    argv = ["--port", "0", "--faults-json", '{"p_500": 0.1, "seed": 3}', "--latency-ms", "500", "--rpm", "60"]
    args = build_parser().parse_args([*argv, "--script", "429,ok", "--should-retry", "false", "--p-500", "0.2"])
    faults = faults_from_args(args)
    assert (faults.latency_ms, faults.rpm_limit, faults.seed, faults.p_500) == (500, 60, 3, 0.2)
    assert faults.script == ["429", "ok"] and faults.should_retry is False


# -- schema example generator --------------------------------------------------------------------------------


class Color(StrEnum):
    RED = "red"
    BLUE = "blue"


class Node(BaseModel):
    label: str
    children: list[Node] = []


class Everything(BaseModel):
    text: str = Field(min_length=12)
    count: int = Field(gt=3, le=10)
    ratio: float = Field(ge=0.5)
    flag: bool
    mode: Literal["fast", "slow"]
    color: Color
    items: list[int] = Field(min_length=2)
    maybe: int | None
    either: int | str
    nested: City
    tree: Node
    mapping: dict[str, float]
    optional_with_default: str = "x"


def test_example_from_schema_validates_complex_models() -> None:
    schema = Everything.model_json_schema()
    instance = Everything.model_validate(example_from_schema(schema))
    assert len(instance.text) >= 12 and 3 < instance.count <= 10 and len(instance.items) == 2
    assert instance.mode == "fast" and instance.color is Color.RED

    with pytest.raises(ValidationError):
        Everything.model_validate(invalid_from_schema(schema))
    with pytest.raises(ValidationError):
        City.model_validate(invalid_from_schema(City.model_json_schema()))


def test_default_responder_answers_each_api_shape_over_raw_http(fp: FakeProvider) -> None:
    """Without pydantic-ai: the raw SDK responses carry the fields pydantic-ai reads."""
    tools_schema = City.model_json_schema()
    with httpx.Client(base_url=fp.base_url) as client:
        chat = client.post(
            "/v1/chat/completions",
            json={
                "model": "m",
                "messages": [{"role": "user", "content": "hi"}],
                "tools": [{"type": "function", "function": {"name": "final_result", "parameters": tools_schema}}],
            },
        ).json()
        responses = client.post(
            "/v1/responses",
            json={
                "model": "m",
                "input": "hi",
                "tools": [{"type": "function", "name": "final_result", "parameters": tools_schema}],
            },
        ).json()
        messages = client.post(
            "/v1/messages?beta=true",
            json={
                "model": "m",
                "max_tokens": 5,
                "messages": [{"role": "user", "content": "hi"}],
                "tools": [{"name": "final_result", "input_schema": tools_schema}],
            },
        ).json()
    City.model_validate_json(chat["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"])
    assert chat["choices"][0]["finish_reason"] == "tool_calls"
    [call] = responses["output"]
    assert call["type"] == "function_call" and call["call_id"]
    City.model_validate_json(call["arguments"])
    assert messages["stop_reason"] == "tool_use"
    City.model_validate(messages["content"][0]["input"])
    assert json.dumps(messages)  # plain JSON all the way down
