"""Pointing the agents at the fake provider (fixture `fake_provider` in tests/conftest.py), per API."""

from __future__ import annotations

import pytest
from agentflows_fake_provider import FakeProvider

from agentflows.settings import get_settings
from agents.catalog import clear_agent_caches


def use_provider(monkeypatch: pytest.MonkeyPatch, fp: FakeProvider, api: str, retries: int = 3) -> str:
    """Point every agent at `fp` through `api`'s real SDK; returns the model spec in use."""
    specs = {
        "openai-chat": f"openai-compatible:gpt-4o-mini@{fp.openai_base_url}",
        "openai-responses": "openai:gpt-4o-mini",
        "anthropic": "anthropic:claude-fake",
    }
    monkeypatch.setenv("AGENTFLOWS_MODEL", specs[api])
    monkeypatch.setenv("AGENTFLOWS_OPENAI_BASE_URL", fp.openai_base_url)
    monkeypatch.setenv("AGENTFLOWS_OPENAI_API_KEY", "sk-test-not-a-real-key")
    monkeypatch.setenv("AGENTFLOWS_ANTHROPIC_BASE_URL", fp.anthropic_base_url)
    monkeypatch.setenv("AGENTFLOWS_ANTHROPIC_API_KEY", "sk-ant-test-not-a-real-key")
    monkeypatch.setenv("AGENTFLOWS_MODEL_REQUEST_RETRIES", str(retries))
    monkeypatch.setenv("AGENTFLOWS_MODEL_REQUEST_TIMEOUT_S", "5")
    get_settings.cache_clear()
    clear_agent_caches()
    return specs[api]
