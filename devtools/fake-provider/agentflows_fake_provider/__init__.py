"""A local fake LLM provider speaking OpenAI Chat Completions, OpenAI Responses and Anthropic Messages.

What it is for: agentflows' tests and benchmarks point the real ``openai``/``anthropic`` SDKs (and pydantic-ai
models built on them) at it, so agents run unchanged, offline and for free, while the provider injects latency,
errors, dropped connections, rate limits and invalid tool arguments on demand and counts what it was sent. It is
a development tool, its own small distribution (``agentflows-fake-provider`` under ``devtools/fake-provider/``,
installed in editable mode by ``make install``) and not part of the agentflows wheel.

Use :class:`FakeProvider` in-process (``with FakeProvider(responder, FaultConfig(...)) as fp:``), or
:class:`FakeProviderProcess` for a child process that shares neither CPU time nor the GIL with the code under
test (what benchmarks need). ``python -m agentflows_fake_provider --port P`` runs it on its own and prints
``READY_PREFIX`` plus the base URL once it accepts connections; ``--help`` lists the fault flags. Its tests are
``tests/fake_provider/`` in the agentflows repository.
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
