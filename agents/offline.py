"""The `offline` model: deterministic, data-grounded output without any language model.

It is a pydantic-ai `FunctionModel`, so an offline run goes through exactly the same agent, output
validation and Prefect tasks as a real one. It reads the prompt's `<data>` section (see
`agents.prompting`) and hands it to the composer that the agent registered for itself; composers
build their output only from those facts and mark every text they write as offline-generated.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel
from pydantic_ai.messages import ModelMessage, ModelRequest, ModelResponse, TextPart, ToolCallPart, UserPromptPart
from pydantic_ai.models.function import AgentInfo, FunctionModel

from agents.prompting import parse_prompt

OFFLINE_MODEL_NAME = "offline"
OFFLINE_MARK = "[offline draft: written by the agentflows offline model from CRM and web facts, no LLM]"

Composer = Callable[[dict[str, Any]], BaseModel]
_composers: dict[str, Composer] = {}


def register(agent_name: str, composer: Composer) -> None:
    """Register how the offline model answers for `agent_name` (one composer per agent)."""
    _composers[agent_name] = composer


def compose(prompt: str) -> dict[str, Any]:
    """The offline answer for a rendered prompt, as JSON-ready data (also used by the fake provider)."""
    import agents.catalog  # noqa: F401  (every agent module registers its composer on import)

    agent, _kind, payload = parse_prompt(prompt)
    composer = _composers.get(agent)
    if composer is None:
        raise LookupError(f"the offline model has no composer for agent {agent!r}")
    return composer(payload).model_dump(mode="json")


def latest_user_prompt(messages: list[ModelMessage]) -> str:
    """The newest user prompt text in a conversation (the one carrying the data section)."""
    for message in reversed(messages):
        if isinstance(message, ModelRequest):
            for part in message.parts:
                if isinstance(part, UserPromptPart) and isinstance(part.content, str):
                    return part.content
    raise ValueError("no user prompt in the conversation")


def _respond(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
    output = compose(latest_user_prompt(messages))
    if info.output_tools:
        return ModelResponse(parts=[ToolCallPart(info.output_tools[0].name, output)], model_name=OFFLINE_MODEL_NAME)
    return ModelResponse(parts=[TextPart(json.dumps(output))], model_name=OFFLINE_MODEL_NAME)


def offline_model() -> FunctionModel:
    return FunctionModel(_respond, model_name=OFFLINE_MODEL_NAME)
