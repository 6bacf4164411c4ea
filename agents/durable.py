"""One way to build an agent: durable, data-section aware, with the configured model.

Every agent in the project comes from `durable_agent`, so they all share the same retry layering,
Prefect task configuration and the rule that data is never an instruction.
"""

from __future__ import annotations

from typing import Any, TypeVar

from prefect.cache_policies import TASK_SOURCE, CachePolicy
from pydantic_ai import Agent
from pydantic_ai.durable_exec.prefect import DEFAULT_PYDANTIC_AI_CACHE_POLICY, PrefectDurability, TaskConfig
from pydantic_ai.durable_exec.prefect._cache_policies import PrefectAgentInputs
from pydantic_ai.models import Model

from agentflows.settings import get_settings
from agents.models import model_for_spec
from agents.prompting import DATA_RULE

DepsT = TypeVar("DepsT")
OutputT = TypeVar("OutputT")


def model_cache_policy() -> CachePolicy:
    """When a model request may be answered from Prefect's result store instead of being sent.

    pydantic-ai's default keys a request by its inputs *and* the flow run id, so only a retry of the
    same run replays it. With `model_cache=inputs` (the default) the run id is left out: a re-run
    with the same prospect data, instructions and model replays the completed requests too, so a
    crashed batch started again pays only for what had not finished.
    """
    if get_settings().model_cache == "run":
        return DEFAULT_PYDANTIC_AI_CACHE_POLICY
    return PrefectAgentInputs() + TASK_SOURCE


def durable_agent(
    *,
    name: str,
    model: Model | str,
    output_type: type[OutputT],
    instructions: str,
    deps_type: type[DepsT] = type(None),  # type: ignore[assignment]
) -> Agent[DepsT, OutputT]:
    """A pydantic-ai agent whose model requests run as Prefect tasks when called inside a flow.

    `model` is a spec string from settings (see `agents.models`) or a ready `Model` (tests).

    Model-request tasks get no Prefect retries: the provider SDK already retries transient errors
    (see `agents.models`), and retrying there too would multiply attempts. `timeout_seconds` is a
    backstop above the SDK's own timeout and retries.
    """
    settings = get_settings()
    backstop = settings.model_request_timeout_s * (settings.model_request_retries + 1) + 30
    agent: Agent[None, Any] = Agent(
        model_for_spec(model, settings) if isinstance(model, str) else model,
        output_type=output_type,
        instructions=f"{instructions.strip()}\n\n{DATA_RULE}",
        name=name,
        deps_type=deps_type,
        retries={"output": settings.output_retries, "tools": 1},
        capabilities=[
            PrefectDurability(
                model_task_config=TaskConfig(retries=0, timeout_seconds=backstop, cache_policy=model_cache_policy()),
                tool_task_config=TaskConfig(retries=1, retry_delay_seconds=1.0),
            )
        ],
    )
    return agent
