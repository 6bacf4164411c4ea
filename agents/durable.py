"""One way to build an agent: durable, data-section aware, with the configured model.

Every agent in the project comes from `durable_agent`, so they all share the same retry layering,
Prefect task configuration and the rule that data is never an instruction.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ParamSpec, TypeVar
from weakref import WeakKeyDictionary

import pydantic_core
from prefect.cache_policies import TASK_SOURCE, CachePolicy
from pydantic_ai import Agent, RunContext
from pydantic_ai.capabilities import AbstractCapability
from pydantic_ai.durable_exec import DurableOperationBackend
from pydantic_ai.durable_exec.prefect import DEFAULT_PYDANTIC_AI_CACHE_POLICY, PrefectDurability, TaskConfig
from pydantic_ai.messages import ModelMessage, ModelResponse
from pydantic_ai.models import Model

from agentflows.compat.pydantic_ai import (
    agent_inputs_cache_policy,
    with_opaque_inputs,
    with_recorded_model_request_keys,
)
from agentflows.settings import get_settings
from agents.models import model_for_spec
from agents.prompting import DATA_RULE

P = ParamSpec("P")
R = TypeVar("R")
DepsT = TypeVar("DepsT")
OutputT = TypeVar("OutputT")


def per_event_loop(factory: Callable[P, R]) -> Callable[P, R]:
    """Cache an agent factory per event loop and arguments.

    An agent owns its provider SDK client, and an SDK client's pooled connections belong to the
    event loop that opened them: reused from another loop (a second `asyncio.run` in one process)
    they fail after the request was sent, and the SDK silently sends it again. One agent per loop
    keeps every request single.
    """
    caches: WeakKeyDictionary[asyncio.AbstractEventLoop, dict[Any, R]] = WeakKeyDictionary()
    _factories.append(caches)

    @functools.wraps(factory)
    def cached(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return factory(*args, **kwargs)
        cache = caches.setdefault(loop, {})
        key = (args, tuple(sorted(kwargs.items())))
        if key not in cache:
            cache[key] = factory(*args, **kwargs)
        return cache[key]

    return cached


_factories: list[WeakKeyDictionary[Any, Any]] = []


def clear_agent_caches() -> None:
    """Forget every built agent (and its SDK client), e.g. after settings changed in a test."""
    for caches in _factories:
        caches.clear()


@dataclass
class ModelIdentity(CachePolicy):
    """Adds the agent's model (spec or id) to a model request's cache key: another model, another answer."""

    model: str = ""

    def compute_key(self, task_ctx: Any, inputs: dict[str, Any], flow_parameters: dict[str, Any], **kwargs: Any) -> str:
        return hashlib.sha256(self.model.encode()).hexdigest()


def model_cache_policy(model: str) -> CachePolicy:
    """When a model request may be answered from Prefect's result store instead of being sent.

    pydantic-ai's default keys a request by its inputs *and* the flow run id, so only a retry of the
    same run replays it. With `model_cache=inputs` (the default) the run id is left out: a re-run
    with the same prospect data, instructions and model replays the completed requests too, so a
    crashed batch started again pays only for what had not finished.
    """
    if get_settings().model_cache == "run":
        return DEFAULT_PYDANTIC_AI_CACHE_POLICY + ModelIdentity(model=model)
    return agent_inputs_cache_policy() + TASK_SOURCE + ModelIdentity(model=model)


# --- cache only what validated ---------------------------------------------------------------------------

logger = logging.getLogger(__name__)
REFUSED = "refused by output validation: not to be replayed"
"""What a refused response's cache record is overwritten with (already expired, so never read)."""


def response_fingerprint(response: object) -> str:
    """What identifies a model response across the task boundary: its parts' kind, tool name, arguments, text."""
    parts = getattr(response, "parts", None) or getattr(getattr(response, "response", None), "parts", ())
    shape = [
        (type(p).__name__, getattr(p, "tool_name", None), getattr(p, "args", None), getattr(p, "content", None))
        for p in parts
    ]
    return hashlib.sha256(pydantic_core.to_json(shape, fallback=str)).hexdigest()


class RequestRecords:
    """The cache records of the model requests this process sent, by response: bounded, thread-safe."""

    def __init__(self, limit: int = 20_000) -> None:
        self._records: OrderedDict[str, list[tuple[str, Any]]] = OrderedDict()
        self._lock = threading.Lock()
        self._limit = limit

    def record(self, response: object, key: str, store: Any) -> None:
        fingerprint = response_fingerprint(response)
        with self._lock:
            self._records.setdefault(fingerprint, []).append((key, store))
            self._records.move_to_end(fingerprint)
            while len(self._records) > self._limit:
                self._records.popitem(last=False)

    def take(self, response: ModelResponse) -> list[tuple[str, Any]]:
        with self._lock:
            return self._records.pop(response_fingerprint(response), [])


REQUEST_RECORDS = RequestRecords()


async def forget_response(messages: list[ModelMessage]) -> int:
    """Expire the cache record of the latest response in `messages` (one validation just refused); how many.

    The record is overwritten with an expired one under the same key, so Prefect's cache lookup misses
    and the request is sent again next time; the new, valid answer then takes the key. This works on
    every result storage (none needs a delete method).
    """
    response = next((m for m in reversed(messages) if isinstance(m, ModelResponse)), None)
    if response is None:
        return 0
    records = REQUEST_RECORDS.take(response)
    for key, store in records:
        try:
            await store.awrite(obj=REFUSED, key=key, expiration=datetime.now(UTC))
        except Exception as exc:  # the run's own error is the one to report; a stale record costs a retry later
            logger.warning("could not expire the refused model response's cache record %s: %s", key, exc)
    return len(records)


@dataclass
class ForgetRefusedResponses(AbstractCapability[Any]):
    """Expires the stored result of a model request whose output validation refused (cache only what validated).

    Output validation runs in two hooks: parsing the output against its type (`wrap_output_validate`) and
    the agent's `@output_validator`s (`wrap_output_process`). Whatever either raises (a `ModelRetry`, a
    `ValidationError`, the give-up after the last retry), the response that caused it is forgotten first.
    """

    async def wrap_output_validate(
        self, ctx: RunContext[Any], *, output_context: Any, output: Any, handler: Any
    ) -> Any:
        try:
            return await handler(output)
        except Exception:
            if not ctx.partial_output:
                await forget_response(ctx.messages)
            raise

    async def wrap_output_process(self, ctx: RunContext[Any], *, output_context: Any, output: Any, handler: Any) -> Any:
        try:
            return await handler(output)
        except Exception:
            if not ctx.partial_output:
                await forget_response(ctx.messages)
            raise


class OpaqueInputsDurability(PrefectDurability):
    """`PrefectDurability` whose tasks' inputs Prefect does not walk, and whose model requests report their records.

    Each model request's cache record is noted (`REQUEST_RECORDS`) so `ForgetRefusedResponses` can expire it.

    A model request's task inputs are the request itself: the message history and the output tool's
    JSON schema, hundreds of nested nodes. Prefect walks every task's inputs twice, looking for futures
    and states to resolve and to record as dependencies; none can be in there. That walk was a fifth of
    the flow process's CPU in `benchmarks/throughput.py`. Marking each input `opaque` skips it; Prefect
    still unwraps the values before computing the cache key, so keys and replays are unchanged.
    """

    def get_durable_operation_backend(self) -> DurableOperationBackend[TaskConfig]:
        backend = with_opaque_inputs(super().get_durable_operation_backend())
        return with_recorded_model_request_keys(backend, REQUEST_RECORDS.record)


def configured_model(role: str, file_model: str | None) -> str:
    """The model spec for one agent: a per-role setting wins, then the workspace file's `model`, then the default.

    The per-role setting (`AGENTFLOWS_AGENT_MODELS`) is the operator's switch (e.g. everything on a local
    server in a test); the file's `model` is the domain team's choice; with neither, the global model.
    """
    settings = get_settings()
    if role in settings.agent_models:
        return settings.agent_models[role]
    return file_model or settings.model_for(role)


def durable_agent(
    *,
    name: str,
    model: Model | str,
    output_type: type[OutputT],
    instructions: str,
    deps_type: type[DepsT] = type(None),  # type: ignore[assignment]
    model_settings: dict[str, Any] | None = None,
    output_retries: int | None = None,
) -> Agent[DepsT, OutputT]:
    """A pydantic-ai agent whose model requests run as Prefect tasks when called inside a flow.

    `model` is a spec string from settings (see `agents.models`) or a ready `Model` (tests).
    `instructions`, `model_settings` and `output_retries` come from the agent's workspace file
    (`agents.workspace.agent_files.AgentFile`); unset, the settings' defaults apply.

    Model-request tasks get no Prefect retries: the provider SDK already retries transient errors
    (see `agents.models`), and retrying there too would multiply attempts. `timeout_seconds` is a
    backstop above the SDK's own timeout and retries.
    """
    settings = get_settings()
    if isinstance(model, str):  # the endpoint is part of the model's identity: a local server is another model
        base = settings.anthropic_base_url if model.startswith("anthropic:") else settings.openai_base_url
        model_key = f"{model}@{base or 'default'}"
    else:
        model_key = f"{model.system}:{model.model_name}"
    backstop = settings.model_request_timeout_s * (settings.model_request_retries + 1) + 30
    agent: Agent[None, Any] = Agent(
        model_for_spec(model, settings) if isinstance(model, str) else model,
        output_type=output_type,
        instructions=f"{instructions.strip()}\n\n{DATA_RULE}",
        name=name,
        deps_type=deps_type,
        model_settings=model_settings,  # type: ignore[arg-type]  (a plain dict from the workspace file)
        retries={"output": settings.output_retries if output_retries is None else output_retries, "tools": 1},
        capabilities=[
            OpaqueInputsDurability(
                model_task_config=TaskConfig(
                    retries=0, timeout_seconds=backstop, cache_policy=model_cache_policy(model_key)
                ),
                tool_task_config=TaskConfig(retries=1, retry_delay_seconds=1.0),
            ),
            ForgetRefusedResponses(),
        ],
    )
    return agent
