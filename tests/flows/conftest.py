"""Fixtures for flow tests that run a whole `agentflows up` stack."""

from __future__ import annotations

from pathlib import Path

import pytest

from agentflows.settings import get_settings


@pytest.fixture
def stack_data(tmp_path: Path) -> tuple[Path, str]:
    """A data directory with a migrated, seeded CRM for a stack; returns (directory, database URL)."""
    from agentflows.db.migrate import upgrade
    from agentflows.seed.crm import seed_crm

    data = tmp_path / "data"
    url = f"sqlite:///{data / 'agentflows.db'}"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AGENTFLOWS_DATABASE_URL", url)
        get_settings.cache_clear()
        upgrade(url)
        seed_crm()
    get_settings.cache_clear()
    return data, url
