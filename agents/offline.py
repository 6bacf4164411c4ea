"""The `offline` model: deterministic, data-grounded output without any language model.

It is a pydantic-ai `FunctionModel`, so an offline run goes through exactly the same agent, output
validation and Prefect tasks as a real one. It reads the prompt's `<data>` section (see
`agents.prompting`) and hands it to the composer of the agent that section is for; composers
build their output only from those facts and mark every text they write as offline-generated.

The composers come from `composers`, a registry that `agents.catalog` fills with every agent's
composer. This module imports no agent: each agent module builds its agent through
`agents.durable`, which builds this model, so looking the agents up from here would be a circle.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from pydantic import BaseModel
from pydantic_ai.messages import ModelMessage, ModelRequest, ModelResponse, TextPart, ToolCallPart, UserPromptPart
from pydantic_ai.models.function import AgentInfo, FunctionModel

from agents.prompting import parse_prompt

OFFLINE_MODEL_NAME = "offline"
OFFLINE_MARK = "[offline draft: written by the agentflows offline model from CRM and web facts, no LLM]"

Composer = Callable[[dict[str, Any]], BaseModel]


class Composers:
    """Which composer answers for which agent name (the `for` of the prompt's data section)."""

    def __init__(self) -> None:
        self._by_agent: dict[str, Composer] = {}

    def fill(self, composers: Mapping[str, Composer]) -> None:
        """Add these composers (`agents.catalog` gives every agent's, once, when it is imported)."""
        self._by_agent.update(composers)

    def compose(self, prompt: str) -> dict[str, Any]:
        """The offline answer for a rendered prompt, as JSON-ready data."""
        agent, _kind, payload = parse_prompt(prompt)
        composer = self._by_agent.get(agent)
        if composer is None:
            hint = "" if self._by_agent else " (no composers at all: import agents.catalog, which fills them)"
            raise LookupError(f"the offline model has no composer for agent {agent!r}{hint}")
        return composer(payload).model_dump(mode="json")


composers = Composers()
"""The registry the offline model answers from; `agents.catalog` fills it."""


def compose(prompt: str) -> dict[str, Any]:
    """The offline answer for a rendered prompt, as JSON-ready data (also used by the fake provider)."""
    return composers.compose(prompt)


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
    """A new offline model; it answers from `composers` at request time, so it can be built before they are filled."""
    return FunctionModel(_respond, model_name=OFFLINE_MODEL_NAME)
