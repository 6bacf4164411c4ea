"""API-neutral request/reply types, the responder interface and the built-in default responder.

Responders only ever see :class:`FakeRequest` and return :class:`FakeReply`, so one responder drives all three
wire formats (OpenAI Chat Completions, OpenAI Responses, Anthropic Messages); the per-API translation lives in
:mod:`.wire`.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal, TypeAlias

from .schema_example import example_from_schema

__all__ = [
    "Api",
    "FakeReply",
    "FakeRequest",
    "Responder",
    "ToolSpec",
    "default_responder",
    "estimate_tokens",
]

Api: TypeAlias = Literal["openai-chat", "openai-responses", "anthropic"]

OUTPUT_TOOL_PREFIX = "final_result"
"""pydantic-ai names its output tools ``final_result`` (``final_result_<Type>`` for output unions)."""


@dataclass(frozen=True)
class ToolSpec:
    """One function tool offered to the model, with its JSON schema as sent on the wire."""

    name: str
    description: str
    parameters: dict[str, Any]

    @property
    def is_output_tool(self) -> bool:
        """Whether this is one of pydantic-ai's structured-output tools rather than a function tool."""
        return self.name.startswith(OUTPUT_TOOL_PREFIX)


@dataclass
class FakeRequest:
    """A model request normalised across the three APIs.

    ``messages`` items are plain dicts with a ``role`` and a string ``content`` (so a responder can search
    text without caring about the wire format), one of:

    * ``{'role': 'user', 'content': str}``
    * ``{'role': 'assistant', 'content': str}``
    * ``{'role': 'tool_call', 'id': str, 'name': str, 'arguments': dict | str, 'content': str}`` - a call the
      assistant made earlier; ``arguments`` is the parsed object, or the raw string if it wasn't valid JSON.
    * ``{'role': 'tool_result', 'id': str, 'name': str | None, 'content': str, 'is_error': bool}`` - what the
      client sent back for a call; pydantic-ai's validation-retry prompts arrive this way too (Anthropic marks
      them ``is_error``; the OpenAI APIs have no such flag, so it's ``False`` there and the text says "Fix the
      errors").

    System/developer text (including Responses ``instructions`` and Anthropic ``system``) is only in
    ``system``.
    """

    api: Api
    model: str
    system: str
    messages: list[dict[str, Any]]
    tools: list[ToolSpec]
    last_user_text: str
    raw: dict[str, Any]
    output_schema: dict[str, Any] | None = None
    """JSON schema of a *native* structured-output request (``response_format``/``text.format``/
    ``output_config.format``), which pydantic-ai uses instead of an output tool for some models/settings."""
    stream: bool = False

    @property
    def output_tools(self) -> list[ToolSpec]:
        """pydantic-ai's output tools (``final_result*``), in the order offered."""
        return [t for t in self.tools if t.is_output_tool]

    @property
    def function_tools(self) -> list[ToolSpec]:
        """The ordinary function tools (everything that is not an output tool)."""
        return [t for t in self.tools if not t.is_output_tool]

    def tool(self, name: str) -> ToolSpec | None:
        """The offered tool called ``name``, if any."""
        return next((t for t in self.tools if t.name == name), None)

    def tool_results(self, name: str | None = None) -> list[dict[str, Any]]:
        """All ``tool_result`` messages so far, optionally only those answering tool ``name``."""
        return [m for m in self.messages if m["role"] == "tool_result" and (name is None or m.get("name") == name)]

    def tool_calls(self, name: str | None = None) -> list[dict[str, Any]]:
        """All earlier ``tool_call`` messages, optionally only those of tool ``name``."""
        return [m for m in self.messages if m["role"] == "tool_call" and (name is None or m.get("name") == name)]

    def prompt_chars(self) -> int:
        """Characters of everything the model 'reads', the basis of the fake input-token count."""
        total = len(self.system)
        for message in self.messages:
            total += len(message.get("content") or "")
            if message["role"] == "tool_call":
                total += len(message.get("name") or "")
        for tool in self.tools:
            total += len(tool.name) + len(tool.description) + len(json.dumps(tool.parameters, sort_keys=True))
        if self.output_schema is not None:
            total += len(json.dumps(self.output_schema, sort_keys=True))
        return total


@dataclass
class FakeReply:
    """What the fake model answers: text, tool calls (``(name, arguments)`` pairs), or both.

    ``input_tokens``/``output_tokens`` override the chars/4 estimate, e.g. to simulate a costly model.
    """

    text: str | None = None
    tool_calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    input_tokens: int | None = None
    output_tokens: int | None = None

    def output_chars(self) -> int:
        """Characters the model 'writes', the basis of the fake output-token count."""
        total = len(self.text or "")
        for name, args in self.tool_calls:
            total += len(name) + len(json.dumps(args))
        return total


Responder: TypeAlias = Callable[[FakeRequest], "FakeReply | Awaitable[FakeReply]"]
"""``responder(request) -> FakeReply``, sync or async. Sync responders run on the server's event loop, so they
must be quick; do anything slow in an async responder."""


def estimate_tokens(chars: int) -> int:
    """The fake tokenizer: 4 characters per token, at least 1 so usage is never zero for a real exchange."""
    return max(1, chars // 4)


def default_responder(request: FakeRequest) -> FakeReply:
    """Answer like a model that immediately gives a minimal valid final answer.

    * an output tool (``final_result*``) is offered: call the first one with a minimal instance of its schema;
    * a native JSON-schema output is requested: reply with a minimal instance as JSON text;
    * otherwise reply with the text ``ok``.
    """
    output_tools = request.output_tools
    if output_tools:
        tool = output_tools[0]
        return FakeReply(tool_calls=[(tool.name, example_from_schema(tool.parameters))])
    if request.output_schema is not None:
        return FakeReply(text=json.dumps(example_from_schema(request.output_schema)))
    return FakeReply(text="ok")
