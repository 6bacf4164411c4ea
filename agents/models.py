"""Model selection: a spec string from settings becomes a pydantic-ai model.

Specs: `offline`, `openai:<model>` (Responses API), `openai-chat:<model>` (Chat Completions),
`openai-compatible:<model>@<base_url>` (vLLM, Ollama, any Chat Completions server),
`anthropic:<model>`. `AGENTFLOWS_FALLBACK_MODELS` adds a `FallbackModel` chain.

Retries live in one layer only: the provider SDK (`max_retries`), which retries transport errors,
429 and 5xx with backoff and jitter and honours `retry-after`. Prefect task retries for model
requests stay at 0 and pydantic-ai's own retries are only for output that fails validation.
"""

from __future__ import annotations

import functools
import logging

from pydantic_ai.models import Model
from pydantic_ai.models.fallback import FallbackModel

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


def _openai_client(settings: Settings, base_url: str | None, api_key: str | None):  # type: ignore[no-untyped-def]
    from openai import AsyncOpenAI

    return AsyncOpenAI(
        api_key=api_key or "not-needed",
        base_url=base_url,
        max_retries=settings.model_request_retries,
        timeout=settings.model_request_timeout_s,
    )


def build_model(spec: str, settings: Settings | None = None) -> Model:
    """One metered model from one spec (see `agents.metered`)."""
    spec = spec.strip()
    provider = OFFLINE if spec == OFFLINE else spec.split(":", 1)[0].replace("openai-chat", "openai")
    return MeteredModel(_provider_model(spec, settings or get_settings()), provider)


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
        from anthropic import AsyncAnthropic
        from pydantic_ai.models.anthropic import AnthropicModel
        from pydantic_ai.providers.anthropic import AnthropicProvider

        key = api_key("anthropic", settings)
        if not key and not settings.anthropic_base_url:
            raise ModelSpecError(
                f"{spec!r} needs ANTHROPIC_API_KEY, a Prefect Secret block {KEY_BLOCKS['anthropic']!r} "
                "(or AGENTFLOWS_ANTHROPIC_BASE_URL)"
            )
        client = AsyncAnthropic(
            api_key=key or "not-needed",
            base_url=settings.anthropic_base_url,
            max_retries=settings.model_request_retries,
            timeout=settings.model_request_timeout_s,
        )
        return AnthropicModel(spec.removeprefix("anthropic:"), provider=AnthropicProvider(anthropic_client=client))
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
