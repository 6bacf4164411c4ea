"""Translation between the three wire formats and the API-neutral :class:`FakeRequest`/:class:`FakeReply`.

Only what pydantic-ai 2.59's ``OpenAIChatModel``, ``OpenAIResponsesModel`` and ``AnthropicModel`` send and
read is covered, plus the streaming variants that a plain ``agent.run`` can trigger (``AnthropicModel``
streams behind the scenes for models whose default ``max_tokens`` is above the SDK's non-streaming limit, e.g.
``claude-sonnet-4-5``). Error bodies copy each provider's documented JSON shape so the SDKs raise their
specific exception classes and pydantic-ai maps them to the right ``ModelHTTPError`` category.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from .core import Api, FakeReply, FakeRequest, ToolSpec
from .schema_example import SchemaError, invalid_from_schema

__all__ = [
    "PreparedReply",
    "PreparedToolCall",
    "RequestFormatError",
    "continue_conversation",
    "error_body",
    "parse_request",
    "render_reply",
]


class RequestFormatError(ValueError):
    """The request body isn't something the real API would accept; answered with a 400 in the API's own
    shape."""


def _new_id(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:24]}"


def _text_of(content: Any) -> str:
    """Flatten message content (a string, or a list of typed parts) into plain text; non-text parts are
    skipped."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts: list[str] = []
        for part in content:
            if isinstance(part, str):
                texts.append(part)
            elif isinstance(part, dict):
                if isinstance(part.get("text"), str):
                    texts.append(part["text"])
                elif isinstance(part.get("content"), str | list):
                    texts.append(_text_of(part["content"]))
        return "\n".join(texts)
    if isinstance(content, dict):
        return _text_of([content])
    return str(content)


def _tool_call_message(call_id: str | None, name: str, arguments: Any) -> dict[str, Any]:
    """A normalised ``tool_call`` item; JSON argument strings are parsed so responders get the object."""
    if isinstance(arguments, str):
        raw = arguments
        try:
            parsed: Any = json.loads(arguments) if arguments.strip() else {}
        except json.JSONDecodeError:
            parsed = arguments
    else:
        parsed = arguments if arguments is not None else {}
        raw = json.dumps(parsed)
    return {"role": "tool_call", "id": call_id, "name": name, "arguments": parsed, "content": raw}


def continue_conversation(request: FakeRequest, history: list[dict[str, Any]]) -> None:
    """Prepend a stored conversation (Responses ``previous_response_id``) to ``request.messages`` in place.

    Tool results in the new input are matched to the stored calls so their ``name`` is known, as if the whole
    history had been sent.
    """
    names = {m["id"]: m["name"] for m in history if m["role"] == "tool_call"}
    for message in request.messages:
        if message["role"] == "tool_result" and message.get("name") is None:
            message["name"] = names.get(message["id"])
    request.messages = [*history, *request.messages]
    request.last_user_text = _last_user_text(request.messages)


def _last_user_text(messages: list[dict[str, Any]]) -> str:
    for message in reversed(messages):
        if message["role"] == "user":
            return str(message["content"])
    return ""


def _require_model(body: dict[str, Any]) -> str:
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise RequestFormatError("'model' is required")
    return model


def _parse_openai_chat(body: dict[str, Any]) -> FakeRequest:
    raw_messages = body.get("messages")
    if not isinstance(raw_messages, list) or not raw_messages:
        raise RequestFormatError("'messages' must be a non-empty array")
    system: list[str] = []
    messages: list[dict[str, Any]] = []
    call_names: dict[str, str] = {}
    for m in raw_messages:
        role = m.get("role")
        text = _text_of(m.get("content"))
        if role in ("system", "developer"):
            system.append(text)
        elif role == "user":
            messages.append({"role": "user", "content": text})
        elif role == "assistant":
            if text:
                messages.append({"role": "assistant", "content": text})
            for call in m.get("tool_calls") or []:
                fn = call.get("function") or {}
                call_names[call.get("id")] = fn.get("name", "")
                messages.append(_tool_call_message(call.get("id"), fn.get("name", ""), fn.get("arguments", "")))
        elif role == "tool":
            call_id = m.get("tool_call_id")
            messages.append(
                {
                    "role": "tool_result",
                    "id": call_id,
                    "name": call_names.get(call_id),
                    "content": text,
                    "is_error": False,
                }
            )
        else:
            raise RequestFormatError(f"unsupported message role {role!r}")
    tools = [
        ToolSpec(fn["name"], fn.get("description") or "", fn.get("parameters") or {})
        for t in body.get("tools") or []
        if t.get("type") == "function" and (fn := t.get("function"))
    ]
    output_schema = None
    response_format = body.get("response_format")
    if isinstance(response_format, dict) and response_format.get("type") == "json_schema":
        output_schema = (response_format.get("json_schema") or {}).get("schema")
    return FakeRequest(
        api="openai-chat",
        model=_require_model(body),
        system="\n\n".join(s for s in system if s),
        messages=messages,
        tools=tools,
        last_user_text=_last_user_text(messages),
        raw=body,
        output_schema=output_schema,
        stream=bool(body.get("stream")),
    )


def _parse_openai_responses(body: dict[str, Any]) -> FakeRequest:
    system: list[str] = []
    if isinstance(body.get("instructions"), str):
        system.append(body["instructions"])
    raw_input = body.get("input")
    items: list[Any] = [{"role": "user", "content": raw_input}] if isinstance(raw_input, str) else raw_input or []
    if not isinstance(items, list):
        raise RequestFormatError("'input' must be a string or an array")
    messages: list[dict[str, Any]] = []
    call_names: dict[str, str] = {}
    for item in items:
        kind = item.get("type")
        if kind in (None, "message"):
            role = item.get("role")
            text = _text_of(item.get("content"))
            if role in ("system", "developer"):
                system.append(text)
            elif role in ("user", "assistant"):
                if text or role == "user":
                    messages.append({"role": role, "content": text})
            else:
                raise RequestFormatError(f"unsupported message role {role!r}")
        elif kind == "function_call":
            call_names[item.get("call_id")] = item.get("name", "")
            messages.append(_tool_call_message(item.get("call_id"), item.get("name", ""), item.get("arguments", "")))
        elif kind == "function_call_output":
            call_id = item.get("call_id")
            messages.append(
                {
                    "role": "tool_result",
                    "id": call_id,
                    "name": call_names.get(call_id),
                    "content": _text_of(item.get("output")),
                    "is_error": False,
                }
            )
        # Reasoning, compaction and built-in tool items carry nothing a fake model needs.
    tools = [
        ToolSpec(t["name"], t.get("description") or "", t.get("parameters") or {})
        for t in body.get("tools") or []
        if t.get("type") == "function"
    ]
    output_schema = None
    text_format = (body.get("text") or {}).get("format")
    if isinstance(text_format, dict) and text_format.get("type") == "json_schema":
        output_schema = text_format.get("schema")
    return FakeRequest(
        api="openai-responses",
        model=_require_model(body),
        system="\n\n".join(s for s in system if s),
        messages=messages,
        tools=tools,
        last_user_text=_last_user_text(messages),
        raw=body,
        output_schema=output_schema,
        stream=bool(body.get("stream")),
    )


def _parse_anthropic(body: dict[str, Any]) -> FakeRequest:
    raw_messages = body.get("messages")
    if not isinstance(raw_messages, list) or not raw_messages:
        raise RequestFormatError("messages: field required")
    if not isinstance(body.get("max_tokens"), int):
        raise RequestFormatError("max_tokens: field required")
    system = _text_of(body.get("system"))
    messages: list[dict[str, Any]] = []
    call_names: dict[str, str] = {}
    for m in raw_messages:
        role = m.get("role")
        if role not in ("user", "assistant"):
            raise RequestFormatError(f"messages: unexpected role {role!r}")
        content = m.get("content")
        blocks: list[Any] = [{"type": "text", "text": content}] if isinstance(content, str) else content or []
        texts: list[str] = []

        def flush_text(role: str = role, texts: list[str] = texts) -> None:
            if texts:
                messages.append({"role": role, "content": "\n".join(texts)})
                texts.clear()

        for block in blocks:
            kind = block.get("type")
            if kind == "text":
                texts.append(block.get("text", ""))
            elif kind == "tool_use":
                flush_text()
                call_names[block.get("id")] = block.get("name", "")
                messages.append(_tool_call_message(block.get("id"), block.get("name", ""), block.get("input")))
            elif kind == "tool_result":
                flush_text()
                call_id = block.get("tool_use_id")
                messages.append(
                    {
                        "role": "tool_result",
                        "id": call_id,
                        "name": call_names.get(call_id),
                        "content": _text_of(block.get("content")),
                        "is_error": bool(block.get("is_error")),
                    }
                )
            # Thinking, images, documents, server tool blocks: nothing a fake model needs.
        flush_text()
    tools = [
        ToolSpec(t["name"], t.get("description") or "", t.get("input_schema") or {})
        for t in body.get("tools") or []
        if "input_schema" in t
    ]
    output_schema = None
    output_format = (body.get("output_config") or {}).get("format")
    if isinstance(output_format, dict) and output_format.get("type") == "json_schema":
        output_schema = output_format.get("schema")
    return FakeRequest(
        api="anthropic",
        model=_require_model(body),
        system=system,
        messages=messages,
        tools=tools,
        last_user_text=_last_user_text(messages),
        raw=body,
        output_schema=output_schema,
        stream=bool(body.get("stream")),
    )


def parse_request(api: Api, body: Any) -> FakeRequest:
    """Normalise a decoded JSON request body of ``api``; raises :class:`RequestFormatError` on malformed
    input."""
    if not isinstance(body, dict):
        raise RequestFormatError("request body must be a JSON object")
    try:
        if api == "openai-chat":
            return _parse_openai_chat(body)
        if api == "openai-responses":
            return _parse_openai_responses(body)
        return _parse_anthropic(body)
    except (AttributeError, KeyError, TypeError) as e:
        raise RequestFormatError(f"malformed request: {e!r}") from e


@dataclass
class PreparedToolCall:
    """A tool call with its wire id and both wire encodings (JSON string for OpenAI, object for Anthropic)."""

    name: str
    arguments: dict[str, Any]
    id: str = field(default_factory=lambda: _new_id("call_"))
    arguments_json: str = ""
    input_object: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.arguments_json:
            self.arguments_json = json.dumps(self.arguments)
        if not self.input_object:
            self.input_object = dict(self.arguments)

    def corrupt(self, schema: dict[str, Any] | None) -> None:
        """Make the arguments fail pydantic-ai validation, the way a sloppy model would.

        OpenAI sends arguments as a string, so it gets truncated (malformed) JSON; Anthropic's ``input`` is an
        object on the wire, so it gets a schema-violating object instead.
        """
        valid = json.dumps(self.arguments)
        self.arguments_json = valid[: max(1, len(valid) // 2)] if len(valid) > 2 else '{"'
        try:
            self.input_object = invalid_from_schema(schema or {})
        except SchemaError:
            self.input_object = {"__fake_invalid__": [{"unexpected": True}]}


@dataclass
class PreparedReply:
    """A :class:`FakeReply` with ids assigned, token counts fixed and faults applied, ready to render."""

    text: str | None
    tool_calls: list[PreparedToolCall]
    input_tokens: int
    output_tokens: int
    response_id: str = field(default_factory=lambda: _new_id("resp_"))
    """The Responses API ``id`` (assigned up front so the server can remember the conversation under it)."""

    def history_items(self) -> list[dict[str, Any]]:
        """This reply as normalised ``messages`` items, to extend a stored conversation with."""
        items: list[dict[str, Any]] = []
        if self.text:
            items.append({"role": "assistant", "content": self.text})
        for call in self.tool_calls:
            items.append(_tool_call_message(call.id, call.name, call.arguments_json))
        return items

    @classmethod
    def from_reply(cls, reply: FakeReply, input_tokens: int, output_tokens: int) -> PreparedReply:
        calls = [PreparedToolCall(name, dict(args)) for name, args in reply.tool_calls]
        return cls(text=reply.text, tool_calls=calls, input_tokens=input_tokens, output_tokens=output_tokens)

    def corrupt_output(self, request: FakeRequest) -> None:
        """Apply the ``invalid_json`` fault: corrupt the first (output-tool-preferred) call, or native JSON
        text."""
        if self.tool_calls:
            target = next((c for c in self.tool_calls if c.name.startswith("final_result")), self.tool_calls[0])
            spec = request.tool(target.name)
            target.corrupt(spec.parameters if spec else None)
        elif self.text is not None:
            self.text = self.text[: max(1, len(self.text) // 2)] if request.output_schema is not None else '{"'


def _sse(events: list[tuple[str | None, dict[str, Any] | str]]) -> str:
    chunks: list[str] = []
    for event, data in events:
        payload = data if isinstance(data, str) else json.dumps(data)
        chunks.append((f"event: {event}\n" if event else "") + f"data: {payload}\n\n")
    return "".join(chunks)


def _render_openai_chat(request: FakeRequest, reply: PreparedReply) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": reply.text, "refusal": None}
    if reply.tool_calls:
        message["tool_calls"] = [
            {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments_json}}
            for c in reply.tool_calls
        ]
    elif reply.text is None:
        message["content"] = ""
    return {
        "id": _new_id("chatcmpl-"),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": request.model,
        "choices": [
            {
                "index": 0,
                "message": message,
                "logprobs": None,
                "finish_reason": "tool_calls" if reply.tool_calls else "stop",
            }
        ],
        "usage": {
            "prompt_tokens": reply.input_tokens,
            "completion_tokens": reply.output_tokens,
            "total_tokens": reply.input_tokens + reply.output_tokens,
        },
        "system_fingerprint": "fp_fake",
    }


def _render_openai_chat_stream(request: FakeRequest, reply: PreparedReply) -> str:
    full = _render_openai_chat(request, reply)
    base = {
        "id": full["id"],
        "object": "chat.completion.chunk",
        "created": full["created"],
        "model": request.model,
    }

    def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return {**base, "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]}

    events: list[tuple[str | None, dict[str, Any] | str]] = [(None, chunk({"role": "assistant", "content": ""}))]
    if reply.text:
        events.append((None, chunk({"content": reply.text})))
    for index, c in enumerate(reply.tool_calls):
        events.append(
            (
                None,
                chunk(
                    {
                        "tool_calls": [
                            {
                                "index": index,
                                "id": c.id,
                                "type": "function",
                                "function": {"name": c.name, "arguments": ""},
                            }
                        ]
                    }
                ),
            )
        )
        events.append((None, chunk({"tool_calls": [{"index": index, "function": {"arguments": c.arguments_json}}]})))
    events.append((None, chunk({}, full["choices"][0]["finish_reason"])))
    if (request.raw.get("stream_options") or {}).get("include_usage"):
        events.append((None, {**base, "choices": [], "usage": full["usage"]}))
    events.append((None, "[DONE]"))
    return _sse(events)


def _responses_usage(reply: PreparedReply) -> dict[str, Any]:
    return {
        "input_tokens": reply.input_tokens,
        "input_tokens_details": {"cached_tokens": 0},
        "output_tokens": reply.output_tokens,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": reply.input_tokens + reply.output_tokens,
    }


def _responses_output(reply: PreparedReply) -> list[dict[str, Any]]:
    output: list[dict[str, Any]] = []
    if reply.text is not None or not reply.tool_calls:
        output.append(
            {
                "type": "message",
                "id": _new_id("msg_"),
                "status": "completed",
                "role": "assistant",
                "content": [{"type": "output_text", "text": reply.text or "", "annotations": [], "logprobs": []}],
            }
        )
    for c in reply.tool_calls:
        output.append(
            {
                "type": "function_call",
                "id": _new_id("fc_"),
                "call_id": c.id,
                "name": c.name,
                "arguments": c.arguments_json,
                "status": "completed",
            }
        )
    return output


def _render_openai_responses(
    request: FakeRequest,
    reply: PreparedReply,
    *,
    status: str = "completed",
    output: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    body = request.raw
    return {
        "id": reply.response_id,
        "object": "response",
        "created_at": int(time.time()),
        "status": status,
        "background": False,
        "error": None,
        "incomplete_details": None,
        "instructions": body.get("instructions"),
        "max_output_tokens": body.get("max_output_tokens"),
        "model": request.model,
        "output": _responses_output(reply) if output is None else output,
        "parallel_tool_calls": body.get("parallel_tool_calls", True),
        "previous_response_id": body.get("previous_response_id"),
        "reasoning": {"effort": None, "summary": None},
        "store": body.get("store", False),
        "temperature": body.get("temperature", 1.0),
        "text": body.get("text") or {"format": {"type": "text"}},
        "tool_choice": body.get("tool_choice", "auto"),
        "tools": body.get("tools") or [],
        "top_p": body.get("top_p", 1.0),
        "truncation": "disabled",
        "usage": _responses_usage(reply) if status == "completed" else None,
        "metadata": body.get("metadata") or {},
    }


def _render_openai_responses_stream(request: FakeRequest, reply: PreparedReply) -> str:
    """The Responses event sequence for a finished reply: created, per-item added/delta/done, completed."""
    final = _render_openai_responses(request, reply)
    pending = {**final, "status": "in_progress", "output": [], "usage": None}
    seq = 0
    events: list[tuple[str | None, dict[str, Any] | str]] = []

    def emit(kind: str, **data: Any) -> None:
        nonlocal seq
        events.append((kind, {"type": kind, "sequence_number": seq, **data}))
        seq += 1

    emit("response.created", response=pending)
    emit("response.in_progress", response=pending)
    for index, item in enumerate(final["output"]):
        if item["type"] == "message":
            text = item["content"][0]["text"]
            emit(
                "response.output_item.added",
                output_index=index,
                item={**item, "status": "in_progress", "content": []},
            )
            empty_part = {"type": "output_text", "text": "", "annotations": [], "logprobs": []}
            emit(
                "response.content_part.added",
                output_index=index,
                item_id=item["id"],
                content_index=0,
                part=empty_part,
            )
            if text:
                emit(
                    "response.output_text.delta",
                    output_index=index,
                    item_id=item["id"],
                    content_index=0,
                    delta=text,
                    logprobs=[],
                )
            emit(
                "response.output_text.done",
                output_index=index,
                item_id=item["id"],
                content_index=0,
                text=text,
                logprobs=[],
            )
            emit(
                "response.content_part.done",
                output_index=index,
                item_id=item["id"],
                content_index=0,
                part=item["content"][0],
            )
        else:
            emit(
                "response.output_item.added",
                output_index=index,
                item={**item, "status": "in_progress", "arguments": ""},
            )
            emit(
                "response.function_call_arguments.delta",
                output_index=index,
                item_id=item["id"],
                delta=item["arguments"],
            )
            emit(
                "response.function_call_arguments.done",
                output_index=index,
                item_id=item["id"],
                arguments=item["arguments"],
                name=item["name"],
            )
        emit("response.output_item.done", output_index=index, item=item)
    emit("response.completed", response=final)
    return _sse(events)


def _render_anthropic(request: FakeRequest, reply: PreparedReply) -> dict[str, Any]:
    content: list[dict[str, Any]] = []
    if reply.text is not None or not reply.tool_calls:
        content.append({"type": "text", "text": reply.text or "", "citations": None})
    for c in reply.tool_calls:
        content.append(
            {
                "type": "tool_use",
                "id": c.id.replace("call_", "toolu_", 1),
                "name": c.name,
                "input": c.input_object,
            }
        )
    return {
        "id": _new_id("msg_"),
        "type": "message",
        "role": "assistant",
        "model": request.model,
        "content": content,
        "stop_reason": "tool_use" if reply.tool_calls else "end_turn",
        "stop_sequence": None,
        "usage": {
            "input_tokens": reply.input_tokens,
            "output_tokens": reply.output_tokens,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0,
            "service_tier": "standard",
        },
    }


def _render_anthropic_stream(request: FakeRequest, reply: PreparedReply) -> str:
    """The Messages SSE sequence: message_start, per-block start/delta/stop, message_delta, message_stop."""
    full = _render_anthropic(request, reply)
    start_usage = {**full["usage"], "output_tokens": 1}
    events: list[tuple[str | None, dict[str, Any] | str]] = [
        (
            "message_start",
            {
                "type": "message_start",
                "message": {**full, "content": [], "stop_reason": None, "usage": start_usage},
            },
        ),
    ]
    for index, block in enumerate(full["content"]):
        if block["type"] == "text":
            events.append(
                (
                    "content_block_start",
                    {
                        "type": "content_block_start",
                        "index": index,
                        "content_block": {"type": "text", "text": ""},
                    },
                )
            )
            if block["text"]:
                events.append(
                    (
                        "content_block_delta",
                        {
                            "type": "content_block_delta",
                            "index": index,
                            "delta": {"type": "text_delta", "text": block["text"]},
                        },
                    )
                )
        else:
            events.append(
                (
                    "content_block_start",
                    {"type": "content_block_start", "index": index, "content_block": {**block, "input": {}}},
                )
            )
            events.append(
                (
                    "content_block_delta",
                    {
                        "type": "content_block_delta",
                        "index": index,
                        "delta": {"type": "input_json_delta", "partial_json": json.dumps(block["input"])},
                    },
                )
            )
        events.append(("content_block_stop", {"type": "content_block_stop", "index": index}))
    events.append(
        (
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": full["stop_reason"], "stop_sequence": None},
                "usage": {"output_tokens": reply.output_tokens},
            },
        )
    )
    events.append(("message_stop", {"type": "message_stop"}))
    return _sse(events)


def render_reply(request: FakeRequest, reply: PreparedReply) -> tuple[str, str]:
    """Serialise ``reply`` in ``request``'s API (streamed as SSE if the request asked for a stream).

    Returns ``(body, media_type)``. Streams are rendered in one go since the whole reply is known up front;
    the SDKs parse SSE incrementally either way.
    """
    if request.api == "openai-chat":
        if request.stream:
            return _render_openai_chat_stream(request, reply), "text/event-stream"
        return json.dumps(_render_openai_chat(request, reply)), "application/json"
    if request.api == "openai-responses":
        if request.stream:
            return _render_openai_responses_stream(request, reply), "text/event-stream"
        return json.dumps(_render_openai_responses(request, reply)), "application/json"
    if request.stream:
        return _render_anthropic_stream(request, reply), "text/event-stream"
    return json.dumps(_render_anthropic(request, reply)), "application/json"


_OPENAI_ERRORS: dict[int, tuple[str, str | None, str]] = {
    400: ("invalid_request_error", None, "{detail}"),
    404: ("invalid_request_error", "unknown_url", "Unknown request URL: {detail}"),
    429: (
        "requests",
        "rate_limit_exceeded",
        "Rate limit reached for requests (fake provider). Please try again in {retry}. {detail}",
    ),
    500: (
        "server_error",
        None,
        "The server had an error while processing your request. Sorry about that! (fake provider) {detail}",
    ),
    503: (
        "server_error",
        "service_unavailable",
        "The service is temporarily unavailable (fake provider). {detail}",
    ),
    504: ("timeout", None, "Request timed out (fake provider). {detail}"),
    529: ("overloaded_error", "overloaded", "The server is currently overloaded (fake provider). {detail}"),
}

_ANTHROPIC_ERRORS: dict[int, tuple[str, str]] = {
    400: ("invalid_request_error", "{detail}"),
    404: ("not_found_error", "Not found: {detail}"),
    429: ("rate_limit_error", "Number of requests has exceeded your rate limit (fake provider). {detail}"),
    500: ("api_error", "Internal server error (fake provider). {detail}"),
    503: ("api_error", "Service unavailable (fake provider). {detail}"),
    504: ("timeout_error", "Request timed out (fake provider). {detail}"),
    529: ("overloaded_error", "Overloaded (fake provider). {detail}"),
}


def error_body(
    api: Api,
    status: int,
    *,
    detail: str = "",
    retry_after_s: float | None = None,
    request_id: str | None = None,
) -> dict[str, Any]:
    """The provider's own error JSON for ``status``, so the SDK picks the matching exception class.

    OpenAI: ``{"error": {"message", "type", "param", "code"}}``; Anthropic:
    ``{"type": "error", "error": {"type", "message"}, "request_id"}``. The 429 ``code``/``type`` avoid
    OpenAI's quota codes (``insufficient_quota``), which pydantic-ai would classify as quota exhaustion
    instead of a rate limit.
    """
    retry = f"{retry_after_s:.3f}s" if retry_after_s is not None else "a moment"
    if api == "anthropic":
        kind, template = _ANTHROPIC_ERRORS.get(status, ("api_error", "Error (fake provider). {detail}"))
        return {
            "type": "error",
            "error": {"type": kind, "message": template.format(detail=detail, retry=retry).strip()},
            "request_id": request_id or _new_id("req_"),
        }
    kind, code, template = _OPENAI_ERRORS.get(status, ("server_error", None, "Error (fake provider). {detail}"))
    return {
        "error": {
            "message": template.format(detail=detail, retry=retry).strip(),
            "type": kind,
            "param": None,
            "code": code,
        }
    }
