"""Model selection: a spec string from settings becomes a pydantic-ai model.

Specs: `offline`, `openai:<model>` (Responses API), `openai-chat:<model>` (Chat Completions),
`openai-compatible:<model>@<base_url>` (vLLM, Ollama, any Chat Completions server),
`anthropic:<model>`. `AGENTFLOWS_FALLBACK_MODELS` adds a `FallbackModel` chain.

Retries live in one layer only: the provider SDK (`max_retries`), which retries transport errors,
429 and 5xx with backoff and jitter and honours `retry-after`. Prefect task retries for model
requests stay at 0 and pydantic-ai's own retries are only for output that fails validation.
Every SDK client counts the HTTP attempts it makes (`track_attempts`), so an error message says
"after N attempts" only when the SDK really retried (a 400 is never retried; a 503 is).

Anthropic requests are plain (non-streaming) unless `AGENTFLOWS_ANTHROPIC_STREAM` asks for
streams: pydantic-ai 2.62 sends a known Claude model its whole output window as `max_tokens` (64,000
for claude-sonnet-4-5) and, past the SDK's non-streaming limit (~21,333) with a custom timeout,
streams the request behind the scenes; an Anthropic-compatible server without streaming then
refuses every request. A `max_tokens` in the model's settings keeps it on the plain path.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from pydantic_ai.messages import ModelMessage, ModelResponse
from pydantic_ai.models import Model, ModelRequestParameters
from pydantic_ai.models.fallback import FallbackModel
from pydantic_ai.models.wrapper import WrapperModel
from pydantic_ai.settings import ModelSettings

from agentflows.compat.provider_sdks import plain_anthropic_settings, retries_taken
from agentflows.settings import OFFLINE, Settings, get_settings
from agents.metered import MeteredModel
from agents.offline import offline_model

PROVIDER_PREFIXES = ("openai:", "openai-chat:", "openai-compatible:", "anthropic:")


class ModelSpecError(ValueError):
    """A model spec that cannot be used; the message says which forms are accepted."""


KEY_BLOCKS = {"openai": "agentflows-openai-api-key", "anthropic": "agentflows-anthropic-api-key"}


def api_key(provider: str, settings: Settings) -> str | None:
    """The provider's key: from settings (env, `.env`), else the Prefect Secret block `KEY_BLOCKS[provider]`.

    A block keeps the key out of every machine's environment: create it once in the UI (Blocks ->
    Secret) or with `Secret(value=...).save("agentflows-openai-api-key")`; workers read it at run time.
    """
    configured = settings.openai_api_key if provider == "openai" else settings.anthropic_api_key
    if configured:
        return configured.get_secret_value()
    return _key_from_block(KEY_BLOCKS[provider])


@functools.cache
def _key_from_block(name: str) -> str | None:
    from prefect.blocks.system import Secret

    try:
        value = Secret.load(name, _sync=True).get()  # type: ignore[call-arg]
    except ValueError:  # "Unable to find block document named ..."
        return None
    except Exception as exc:  # no Prefect server reachable: the spec's own error message says what to set
        logging.getLogger("agentflows.models").warning("could not read Prefect Secret block %s: %s", name, exc)
        return None
    return str(value).strip() or None


@dataclass
class Attempts:
    """The HTTP attempts the SDK made for the latest model request of one agent run."""

    retries_of_last: int | None = None  # None: no request reached an SDK client (offline model, cache hit)

    @property
    def made(self) -> int | None:
        return None if self.retries_of_last is None else self.retries_of_last + 1


_ATTEMPTS: ContextVar[Attempts | None] = ContextVar("agentflows_model_attempts", default=None)


@contextmanager
def track_attempts() -> Iterator[Attempts]:
    """Count the SDK's attempts of model requests made inside (`tasks.generation.run_agent` uses it)."""
    attempts = Attempts()
    token = _ATTEMPTS.set(attempts)
    try:
        yield attempts
    finally:
        _ATTEMPTS.reset(token)


async def _note_attempt(request: Any) -> None:
    """httpx request hook: the attempt number of the request about to be sent (the SDK's own count)."""
    attempts = _ATTEMPTS.get()
    if attempts is not None:
        attempts.retries_of_last = retries_taken(request)


def _openai_client(settings: Settings, base_url: str | None, api_key: str | None):  # type: ignore[no-untyped-def]
    from openai import AsyncOpenAI, DefaultAsyncHttpxClient

    return AsyncOpenAI(
        api_key=api_key or "not-needed",
        base_url=base_url,
        max_retries=settings.model_request_retries,
        timeout=settings.model_request_timeout_s,
        http_client=DefaultAsyncHttpxClient(event_hooks={"request": [_note_attempt]}),
    )


def _anthropic_client(settings: Settings, api_key: str | None):  # type: ignore[no-untyped-def]
    from anthropic import AsyncAnthropic, DefaultAsyncHttpxClient

    return AsyncAnthropic(
        api_key=api_key or "not-needed",
        base_url=settings.anthropic_base_url,
        max_retries=settings.model_request_retries,
        timeout=settings.model_request_timeout_s,
        http_client=DefaultAsyncHttpxClient(event_hooks={"request": [_note_attempt]}),
    )


class StreamedRequests(WrapperModel):
    """Sends every request as a stream and returns the assembled response (`AGENTFLOWS_ANTHROPIC_STREAM`)."""

    async def request(
        self,
        messages: list[ModelMessage],
        model_settings: ModelSettings | None,
        model_request_parameters: ModelRequestParameters,
    ) -> ModelResponse:
        async with self.request_stream(messages, model_settings, model_request_parameters) as stream:
            async for _ in stream:
                pass
        return stream.get()


WIRE_APIS = {
    "openai": "openai-responses",
    "openai-chat": "openai-chat",
    "openai-compatible": "openai-chat",
    "anthropic": "anthropic-messages",
}


def api_label(spec: str, settings: Settings) -> str:
    """Which API answers a spec's requests: the wire API, plus the endpoint's host when one is configured.

    `agentflows usage` groups by it, so `openai:gpt-4.1-mini` (Responses) and `openai-chat:gpt-4.1-mini`, or
    two OpenAI-compatible servers serving the same model name, are separate rows. Only host and port are
    kept from a base URL (never credentials or a path).
    """
    if spec == OFFLINE:
        return OFFLINE
    kind = spec.split(":", 1)[0]
    base_url = {
        "openai-compatible": spec.partition("@")[2],
        "openai": settings.openai_base_url,
        "openai-chat": settings.openai_base_url,
        "anthropic": settings.anthropic_base_url,
    }.get(kind)
    host = urlsplit(base_url).netloc.rpartition("@")[2] if base_url else ""
    wire = WIRE_APIS.get(kind, kind)
    return f"{wire}@{host}" if host else wire


def build_model(spec: str, settings: Settings | None = None) -> Model:
    """One metered model from one spec (see `agents.metered`)."""
    spec = spec.strip()
    settings = settings or get_settings()
    provider = OFFLINE if spec == OFFLINE else spec.split(":", 1)[0].replace("openai-chat", "openai")
    return MeteredModel(_provider_model(spec, settings), provider, api_label(spec, settings))


def _provider_model(spec: str, settings: Settings) -> Model:
    """The provider's model for a spec. Keys come from settings (env or `.env`), never from the spec."""
    if spec == OFFLINE:
        return offline_model()
    if spec.startswith("openai-compatible:"):
        from pydantic_ai.models.openai import OpenAIChatModel
        from pydantic_ai.providers.openai import OpenAIProvider

        name, sep, base_url = spec.removeprefix("openai-compatible:").partition("@")
        if not sep or not name or not base_url:
            raise ModelSpecError(f"{spec!r}: expected openai-compatible:<model>@<base_url>")
        key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else None  # servers may need none
        return OpenAIChatModel(name, provider=OpenAIProvider(openai_client=_openai_client(settings, base_url, key)))
    if spec.startswith(("openai:", "openai-chat:")):
        from pydantic_ai.models.openai import OpenAIChatModel, OpenAIResponsesModel
        from pydantic_ai.providers.openai import OpenAIProvider

        kind, _, name = spec.partition(":")
        key = api_key("openai", settings)
        if not key and not settings.openai_base_url:
            raise ModelSpecError(
                f"{spec!r} needs OPENAI_API_KEY, a Prefect Secret block {KEY_BLOCKS['openai']!r} "
                "(or AGENTFLOWS_OPENAI_BASE_URL)"
            )
        provider = OpenAIProvider(openai_client=_openai_client(settings, settings.openai_base_url, key))
        model_cls = OpenAIResponsesModel if kind == "openai" else OpenAIChatModel
        return model_cls(name, provider=provider)
    if spec.startswith("anthropic:"):
        from pydantic_ai.models.anthropic import AnthropicModel
        from pydantic_ai.providers.anthropic import AnthropicProvider

        key = api_key("anthropic", settings)
        if not key and not settings.anthropic_base_url:
            raise ModelSpecError(
                f"{spec!r} needs ANTHROPIC_API_KEY, a Prefect Secret block {KEY_BLOCKS['anthropic']!r} "
                "(or AGENTFLOWS_ANTHROPIC_BASE_URL)"
            )
        provider = AnthropicProvider(anthropic_client=_anthropic_client(settings, key))
        name = spec.removeprefix("anthropic:")
        if settings.anthropic_stream:
            return StreamedRequests(AnthropicModel(name, provider=provider))
        plain = plain_anthropic_settings(settings.anthropic_max_tokens)  # see the module docstring
        return AnthropicModel(name, provider=provider, settings=plain)
    raise ModelSpecError(
        f"unknown model spec {spec!r}: use 'offline', 'openai:<model>', 'openai-chat:<model>', "
        "'openai-compatible:<model>@<base_url>' or 'anthropic:<model>'"
    )


def model_for_spec(spec: str, settings: Settings | None = None) -> Model:
    """The primary model, wrapped in a fallback chain when fallbacks are configured."""
    settings = settings or get_settings()
    primary = build_model(spec, settings)
    fallbacks = [build_model(s, settings) for s in settings.fallback_models if s.strip() != spec]
    return FallbackModel(primary, *fallbacks) if fallbacks else primary
