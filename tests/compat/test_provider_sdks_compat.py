"""Contracts with the provider SDKs and pydantic-ai that `agentflows/compat/provider_sdks.py` relies on, against
the fake provider: each fails loudly when an upgrade changes the behaviour."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from pydantic_ai import Agent

from agentflows.compat import provider_sdks as compat


@pytest.mark.parametrize("sdk", ["openai", "anthropic"])
def test_each_attempt_carries_its_retry_count(sdk, fake_provider):
    """Two 503s, then an answer: the three attempts say 0, 1, 2."""
    import anthropic
    import openai

    seen: list[int] = []

    async def hook(request: httpx.Request) -> None:
        seen.append(compat.retries_taken(request))

    fake_provider.set_faults(script=["503", "503", "ok"], retry_after_s=0.01)

    async def call() -> None:
        if sdk == "openai":
            client = openai.AsyncOpenAI(
                base_url=fake_provider.openai_base_url,
                api_key="test",
                max_retries=3,
                http_client=openai.DefaultAsyncHttpxClient(event_hooks={"request": [hook]}),
            )
            await client.chat.completions.create(model="gpt-fake", messages=[{"role": "user", "content": "hi"}])
        else:
            client = anthropic.AsyncAnthropic(
                base_url=fake_provider.anthropic_base_url,
                api_key="test",
                max_retries=3,
                http_client=anthropic.DefaultAsyncHttpxClient(event_hooks={"request": [hook]}),
            )
            await client.messages.create(
                model="claude-fake", max_tokens=50, messages=[{"role": "user", "content": "hi"}]
            )

    asyncio.run(call())
    assert seen == [0, 1, 2]


def test_max_tokens_in_the_settings_keeps_anthropic_requests_plain(fake_provider):
    """A real Claude name (pydantic-ai knows its 64,000-token window): streamed unless max_tokens is set."""
    from anthropic import AsyncAnthropic
    from pydantic_ai.models.anthropic import AnthropicModel
    from pydantic_ai.providers.anthropic import AnthropicProvider

    client = AsyncAnthropic(base_url=fake_provider.anthropic_base_url, api_key="test", max_retries=0, timeout=30)
    provider = AnthropicProvider(anthropic_client=client)
    plain = AnthropicModel("claude-sonnet-4-5", provider=provider, settings=compat.plain_anthropic_settings(1000))

    async def both() -> None:  # one event loop: the client's connections belong to it
        await Agent(AnthropicModel("claude-sonnet-4-5", provider=provider)).run("hi")
        await Agent(plain).run("hi")

    asyncio.run(both())
    assert [(r.stream, r.raw["max_tokens"]) for r in fake_provider.requests] == [(True, 64000), (False, 1000)]
