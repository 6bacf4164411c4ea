"""Test harness: a real Prefect server on a free loopback port, real SQLite, a real SMTP sink.

Prefect reads its settings at import, so the environment is set here, at conftest import, before
any test module imports Prefect. Every test session gets its own data directory; no state of a
developer's `make demo` is touched, and a developer's API keys cannot leak into tests (the model
is pinned to `offline` unless a test says otherwise).
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

_SESSION_DIR = Path(tempfile.mkdtemp(prefix="agentflows-tests-"))

_KEEP = {"AGENTFLOWS_CHROMIUM", "AGENTFLOWS_TEST_POSTGRES"}  # test-harness switches, not product settings
for _key in [k for k in os.environ if k.startswith(("PREFECT_", "AGENTFLOWS_")) and k not in _KEEP] + [
    "OPENAI_API_KEY",
    "ANTHROPIC_API_KEY",
    "OPENAI_BASE_URL",
    "ANTHROPIC_BASE_URL",
]:
    os.environ.pop(_key, None)

from agentflows.prefect_server import free_port  # noqa: E402  (no Prefect import behind it)

_PREFECT_PORT = free_port()
os.environ.update(
    {
        "AGENTFLOWS_DATA_DIR": str(_SESSION_DIR / "data"),
        "AGENTFLOWS_MODEL": "offline",
        "AGENTFLOWS_APPROVAL_POLL_S": "1",
        "AGENTFLOWS_WEB_TIMEOUT_S": "2",
        "PREFECT_HOME": str(_SESSION_DIR / "prefect-client"),
        "PREFECT_API_URL": f"http://127.0.0.1:{_PREFECT_PORT}/api",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_RESULTS_PERSIST_BY_DEFAULT": "true",
        "PREFECT_LOCAL_STORAGE_PATH": str(_SESSION_DIR / "prefect-results"),
        "PREFECT_LOGGING_LEVEL": "WARNING",
        # The CLI's rich consoles read the width once, at import: the same wide tables with or without a terminal
        # (pytest-xdist workers have none).
        "COLUMNS": "200",
    }
)
(_SESSION_DIR / "prefect-client").mkdir(parents=True)
atexit.register(shutil.rmtree, _SESSION_DIR, ignore_errors=True)

from agentflows.settings import get_settings  # noqa: E402


@pytest.fixture(scope="session")
def prefect_server() -> Iterator[str]:
    """A real Prefect API server for the whole session, on the database users get by default (the embedded
    PostgreSQL; `AGENTFLOWS_PREFECT_DATABASE=sqlite` for SQLite); yields its API URL."""
    from agentflows.prefect_server import prefect_database_choice, start_prefect_server

    choice = prefect_database_choice(get_settings())
    pgdata = _SESSION_DIR / "prefect-postgres" if choice.kind == "embedded-postgres" else None
    server = start_prefect_server(_SESSION_DIR / "prefect-server", port=_PREFECT_PORT, embedded_pgdata=pgdata)
    yield server.api_url
    from prefect.logging.handlers import APILogWorker

    APILogWorker.drain_all(timeout=5)  # send the last run logs while the server still listens
    server.stop()


# --- which database engine the project database fixtures use --------------------------------
# Unset: SQLite files. `AGENTFLOWS_TEST_POSTGRES=local`: a throwaway PostgreSQL server started for the
# session. Any other value: the URL of a PostgreSQL server to create per-test databases in
# (e.g. postgresql+psycopg://app@127.0.0.1:5432/postgres). `make test-postgres` runs the suite that way.
_TEST_POSTGRES = os.environ.pop("AGENTFLOWS_TEST_POSTGRES", "")
_pg_server: list[object] = []


def _postgres_admin_url() -> str | None:
    if not _TEST_POSTGRES:
        return None
    if _TEST_POSTGRES != "local":
        return _TEST_POSTGRES
    if not _pg_server:
        from tests.triggers.postgres import start_postgres

        server = start_postgres(["agentflows_admin"])
        atexit.register(server.stop)
        _pg_server.append(server)
    return _pg_server[0].url("agentflows_admin")  # type: ignore[attr-defined]


def _create_pg_database(name: str, template: str | None = None) -> str:
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    admin = make_url(_postgres_admin_url())
    engine = create_engine(admin, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else "")))
    engine.dispose()
    return admin.set(database=name).render_as_string(hide_password=False)


def _fresh_database_url(tmp_path: Path, template: str | None = None) -> str:
    if _postgres_admin_url():
        import uuid

        return _create_pg_database(f"t_{uuid.uuid4().hex[:12]}", template)
    return f"sqlite:///{tmp_path / 'agentflows.db'}"


def use_database(monkeypatch: pytest.MonkeyPatch, url: str) -> str:
    """Point the project at `url` (settings are cached per process, so clear them) and migrate it."""
    from agentflows.db.migrate import upgrade

    monkeypatch.setenv("AGENTFLOWS_DATABASE_URL", url)
    get_settings.cache_clear()
    upgrade(url)
    return url


@pytest.fixture
def empty_db(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[str]:
    """A fresh, migrated, empty project database for one test (SQLite, or PostgreSQL when configured)."""
    yield use_database(monkeypatch, _fresh_database_url(tmp_path))
    get_settings.cache_clear()


def seed_template(name: str, seed: Callable[[], object]) -> str:
    """Migrate and seed a template database once (a SQLite file, or a PostgreSQL database); returns its URL."""
    from agentflows.db.migrate import upgrade
    from agentflows.db.session import get_engine

    url = _create_pg_database(name) if _postgres_admin_url() else f"sqlite:///{_SESSION_DIR / name}.db"
    os.environ["AGENTFLOWS_DATABASE_URL"] = url
    get_settings.cache_clear()
    try:
        upgrade(url)
        seed()
    finally:
        os.environ.pop("AGENTFLOWS_DATABASE_URL", None)
        get_settings.cache_clear()
    get_engine(url).dispose()
    return url


def copy_of_template(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, template_url: str) -> str:
    """A private, migrated copy of a seeded template for one test (tests may write to it freely)."""
    if _postgres_admin_url():
        name = template_url.rsplit("/", 1)[1]
        return use_database(monkeypatch, _fresh_database_url(tmp_path, template=name))
    copy = tmp_path / "agentflows.db"
    shutil.copy(template_url.removeprefix("sqlite:///"), copy)
    return use_database(monkeypatch, f"sqlite:///{copy}")


@pytest.fixture(scope="session")
def seeded_db_file() -> str:
    """The demo CRM, seeded once per session into a template that tests copy."""
    from agentflows.seed.crm import seed_crm

    return seed_template("seeded_template", seed_crm)


@pytest.fixture
def seeded_db(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, seeded_db_file: str) -> Iterator[str]:
    """A private copy of the seeded demo CRM for one test."""
    yield copy_of_template(monkeypatch, tmp_path, seeded_db_file)
    get_settings.cache_clear()


@pytest.fixture
def smtp_sink(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[object]:
    """A real SMTP server on a free loopback port; the project sends to it."""
    from agentflows.smtp_sink import SmtpSink

    with SmtpSink(port=0, directory=tmp_path / "mail") as sink:
        monkeypatch.setenv("AGENTFLOWS_SMTP_URL", sink.url)
        get_settings.cache_clear()
        yield sink
    get_settings.cache_clear()


@pytest.fixture
def fake_provider() -> Iterator[object]:
    """A local model provider (OpenAI and Anthropic wire formats) answering like the offline model."""
    from agentflows_fake_provider import FakeProvider, FaultConfig

    from agents.catalog import clear_agent_caches
    from tests.providers.responders import offline_responder

    with FakeProvider(responder=offline_responder, faults=FaultConfig(retry_after_s=0.05)) as fp:
        yield fp
    get_settings.cache_clear()
    clear_agent_caches()


@pytest.fixture
def stack_data(tmp_path: Path) -> tuple[Path, str]:
    """A data directory with a migrated, seeded CRM for a stack; returns (directory, database URL)."""
    from agentflows.seed.crm import seed_crm
    from tests.helpers import seed_database

    data = tmp_path / "data"
    return data, seed_database(f"sqlite:///{data / 'agentflows.db'}", seed_crm)


def _starts_whole_stacks(module: object) -> bool:
    """A test module that runs `agentflows up` (through tests/triggers/stack.py) or a process pool."""
    names = vars(module).values() if module is not None else ()
    return any(getattr(value, "__module__", "") == "tests.triggers.stack" for value in names) or bool(
        getattr(module, "STARTS_PROCESSES", False)
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Whole-stack test files first: under `-n 2 --dist loadfile` the two workers start on the long files and
    finish on the short ones, instead of one worker ending alone on a two-minute stack test."""
    items.sort(key=lambda item: not _starts_whole_stacks(getattr(item, "module", None)))
