"""A local fake LLM provider speaking OpenAI Chat Completions, OpenAI Responses and Anthropic Messages.

Tests and benchmarks point the real ``openai``/``anthropic`` SDKs (and pydantic-ai models built on them) at
it, so agents run unchanged while the provider injects latency, errors, dropped connections, rate limits and
invalid tool arguments on demand. See :class:`FakeProvider` (in-process) and :class:`FakeProviderProcess`
(child process).
"""

from .core import Api, FakeReply, FakeRequest, Responder, ToolSpec, default_responder, estimate_tokens
from .faults import FaultConfig, FaultDecision, FaultEngine, FaultKind
from .schema_example import SchemaError, example_from_schema, invalid_from_schema
from .server import READY_PREFIX, FakeProvider, FakeProviderApp, FakeProviderProcess, main, make_model
from .stats import RequestLogEntry, Stats

__all__ = [
    "READY_PREFIX",
    "Api",
    "FakeProvider",
    "FakeProviderApp",
    "FakeProviderProcess",
    "FakeReply",
    "FakeRequest",
    "FaultConfig",
    "FaultDecision",
    "FaultEngine",
    "FaultKind",
    "RequestLogEntry",
    "Responder",
    "SchemaError",
    "Stats",
    "ToolSpec",
    "default_responder",
    "estimate_tokens",
    "example_from_schema",
    "invalid_from_schema",
    "main",
    "make_model",
]
