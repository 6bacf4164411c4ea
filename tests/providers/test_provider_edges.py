"""Provider edges, through the real SDKs against the fake provider: Anthropic requests are plain unless
streaming is asked for (so a compatible server without streaming works), and an error message counts
attempts only when the SDK really retried."""

from __future__ import annotations

import asyncio

import pytest

from agentflows.settings import get_settings
from agents.catalog import clear_agent_caches
from tasks.generation import GenerationError, research
from tests.agents.outreach_data import research_input, shipped_workspace
from tests.providers.conftest import use_provider
from tests.providers.test_agents_over_sdks import APIS, usage_totals

WS = shipped_workspace()
# A real model name: pydantic-ai knows its 64,000-token output window and, left alone, streams every request.
CLAUDE = "anthropic:claude-sonnet-4-5"


def _use_claude(monkeypatch: pytest.MonkeyPatch, fake_provider, stream: bool | None = None) -> None:
    use_provider(monkeypatch, fake_provider, "anthropic")
    monkeypatch.setenv("AGENTFLOWS_MODEL", CLAUDE)
    if stream is not None:
        monkeypatch.setenv("AGENTFLOWS_ANTHROPIC_STREAM", str(stream).lower())
    get_settings.cache_clear()
    clear_agent_caches()


def test_anthropic_server_without_streaming_works(fake_provider, monkeypatch, empty_db):
    _use_claude(monkeypatch, fake_provider)
    fake_provider.set_faults(streaming=False, retry_after_s=0.05)
    brief = asyncio.run(research(research_input(), WS))
    assert brief.facts
    sent = fake_provider.requests
    assert sent and [r.stream for r in sent] == [False] * len(sent), "plain requests only"
    assert {r.raw["max_tokens"] for r in sent} == {get_settings().anthropic_max_tokens}
    assert fake_provider.stats.successes == len(sent) and usage_totals()[0] == len(sent)


def test_anthropic_streams_when_asked(fake_provider, monkeypatch, empty_db):
    _use_claude(monkeypatch, fake_provider, stream=True)
    fake_provider.set_faults(retry_after_s=0.05)
    assert asyncio.run(research(research_input(), WS)).facts
    sent = fake_provider.requests
    assert sent and all(r.stream for r in sent)
    assert usage_totals() == (len(sent), fake_provider.stats.input_tokens, fake_provider.stats.output_tokens)

    fake_provider.set_faults(streaming=False, retry_after_s=0.05)  # asked for streams from a server without them
    fake_provider.reset_stats()
    with pytest.raises(GenerationError) as info:
        asyncio.run(research(research_input(web_text="Another page, so no cached answer."), WS))
    message = str(info.value)
    assert "refused the request (HTTP 400; not retried" in message and "attempts" not in message, message
    assert fake_provider.stats.total_requests == 1


@pytest.mark.parametrize("api", APIS)
def test_a_refused_request_is_not_called_retried(api, fake_provider, monkeypatch, empty_db):
    use_provider(monkeypatch, fake_provider, api, retries=3)
    fake_provider.set_faults(fail_first_n=100, fail_kind="400", retry_after_s=0.05)
    with pytest.raises(GenerationError) as info:
        asyncio.run(research(research_input(), WS))
    message = str(info.value)
    assert "outreach-researcher" in message and "HTTP 400; not retried" in message, message
    assert "attempts" not in message, message
    assert fake_provider.stats.total_requests == 1, "the SDK did not retry a 400"


@pytest.mark.parametrize("api", APIS)
def test_a_retried_failure_counts_its_attempts(api, fake_provider, monkeypatch, empty_db):
    use_provider(monkeypatch, fake_provider, api, retries=3)
    fake_provider.set_faults(fail_first_n=100, fail_kind="503", retry_after_s=0.05)
    with pytest.raises(GenerationError, match=r"failed after 4 attempts \(3 SDK retries; last: HTTP 503\)"):
        asyncio.run(research(research_input(), WS))
    assert fake_provider.stats.total_requests == 4, "1 try + 3 SDK retries"


def test_usage_keeps_two_apis_serving_one_model_apart(fake_provider, monkeypatch, empty_db):
    """The same model name through the Responses and the Chat Completions API: two rows, as two bills."""
    from tasks.usage import usage_rows

    use_provider(monkeypatch, fake_provider, "openai-responses")  # openai:gpt-4o-mini
    asyncio.run(research(research_input(), WS))
    monkeypatch.setenv("AGENTFLOWS_MODEL", "openai-chat:gpt-4o-mini")
    get_settings.cache_clear()
    clear_agent_caches()
    asyncio.run(research(research_input(web_text="Another page, another request."), WS))
    assert fake_provider.stats.by_api == {"openai-responses": 1, "openai-chat": 1}
    endpoint = fake_provider.openai_base_url.split("//")[1].removesuffix("/v1")
    rows = usage_rows(by="agent")
    assert sorted((r["api"], r["model"], r["requests"]) for r in rows) == [
        (f"openai-chat@{endpoint}", "gpt-4o-mini", 1),
        (f"openai-responses@{endpoint}", "gpt-4o-mini", 1),
    ]
