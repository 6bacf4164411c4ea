"""Provider keys from Prefect Secret blocks: no key in any machine's environment, the model still gets it."""

from __future__ import annotations

import pytest

from agentflows.settings import get_settings

pytestmark = pytest.mark.e2e


def test_keys_come_from_prefect_secret_blocks_when_the_environment_has_none(prefect_server, monkeypatch):
    from prefect.blocks.system import Secret

    from agents import models

    Secret(value="sk-ant-from-a-block").save(models.KEY_BLOCKS["anthropic"], overwrite=True)
    monkeypatch.delenv("AGENTFLOWS_ANTHROPIC_API_KEY", raising=False)
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    get_settings.cache_clear()
    models._key_from_block.cache_clear()
    try:
        model = models._provider_model("anthropic:claude-fake", get_settings())
        assert model.client.api_key == "sk-ant-from-a-block"

        monkeypatch.setenv("AGENTFLOWS_ANTHROPIC_API_KEY", "sk-ant-from-the-environment")  # settings win
        get_settings.cache_clear()
        assert models._provider_model("anthropic:claude-fake", get_settings()).client.api_key == (
            "sk-ant-from-the-environment"
        )
        with pytest.raises(models.ModelSpecError, match="agentflows-openai-api-key"):  # no key anywhere
            models._provider_model("openai:gpt-4o-mini", get_settings())
    finally:
        models._key_from_block.cache_clear()
        get_settings.cache_clear()
