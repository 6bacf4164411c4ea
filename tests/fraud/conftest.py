"""Fraud-check fixtures: the seeded marketplace (once per session, copied per test), a private
template folder or a private workspace per test, and a hand-built shop for signal tests."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from agentflows.settings import get_settings
from tests.conftest import copy_of_template, seed_template
from tests.fraud.builders import Shop


@pytest.fixture(scope="session")
def market_db_file() -> str:
    """The seeded marketplace (5,000 customers, 50,000 orders, 2,400 labelled claims), seeded once."""
    from agentflows.seed.marketplace import seed_marketplace

    return seed_template("market_template", seed_marketplace)


@pytest.fixture
def market_db(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, market_db_file: str) -> Iterator[str]:
    """A private copy of the seeded marketplace for one test."""
    yield copy_of_template(monkeypatch, tmp_path, market_db_file)
    get_settings.cache_clear()


@pytest.fixture
def template_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    """A private copy of the shipped templates, in use for this test (AGENTFLOWS_FRAUD_TEMPLATES_DIR)."""
    from agentflows.fraud_templates import SHIPPED

    folder = tmp_path / "fraud_templates"
    shutil.copytree(SHIPPED, folder)
    monkeypatch.setenv("AGENTFLOWS_FRAUD_TEMPLATES_DIR", str(folder))
    get_settings.cache_clear()
    yield folder
    get_settings.cache_clear()


@pytest.fixture
def shop(empty_db: str, template_dir: Path) -> Shop:
    """An empty marketplace to build cases in by hand."""
    return Shop()


@pytest.fixture(autouse=True)
def _model_answers_stay_in_their_run(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Several tests check the same seeded claims with different models (offline, a FunctionModel
    that insists on `clear`); keyed by inputs alone, one run could replay another model's answer."""
    monkeypatch.setenv("AGENTFLOWS_MODEL_CACHE", "run")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture
def workspace_folder(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    """A private copy of the shipped workspace, active for this test (AGENTFLOWS_WORKSPACE), templates included."""
    from agentflows.workspace import SHIPPED

    folder = tmp_path / "workspace"
    shutil.copytree(SHIPPED, folder)
    monkeypatch.setenv("AGENTFLOWS_WORKSPACE", str(folder))
    monkeypatch.delenv("AGENTFLOWS_FRAUD_TEMPLATES_DIR", raising=False)
    get_settings.cache_clear()
    yield folder
    get_settings.cache_clear()
