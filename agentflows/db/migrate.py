"""Schema migrations, applied programmatically so `agentflows seed`, `agentflows up` and tests all
bring any database (SQLite or PostgreSQL) to the current schema the same way."""

from __future__ import annotations

import threading
from pathlib import Path

from alembic import command
from alembic.config import Config

from agentflows.settings import get_settings

MIGRATIONS = Path(__file__).parent / "migrations"
_done: set[str] = set()
_lock = threading.Lock()


def alembic_config(url: str | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", (url or get_settings().db_url).replace("%", "%%"))
    return config


def upgrade(url: str | None = None) -> None:
    """Bring the database at `url` to the newest schema (once per process per URL)."""
    url = url or get_settings().db_url
    with _lock:
        if url in _done:
            return
        if url.startswith("sqlite:///"):
            Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        command.upgrade(alembic_config(url), "heads")
        _done.add(url)
