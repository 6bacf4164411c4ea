"""`crm-sync` from a SQL source (a second SQLite database) on the real Prefect server.

The flow is called directly (a real flow run on the session's Prefect server, with its task runs and
artifacts), not through a deployment run: the deployment itself is checked for its switched-off schedule.
"""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from uuid import UUID

import pytest
import yaml
from sqlalchemy import select

from agentflows.db import session_scope
from agentflows.db.crm import Account, Activity, Contact, Seniority

pytestmark = pytest.mark.e2e

SOURCE_ROWS = {
    "companies": (
        "id INTEGER, title TEXT, url TEXT, staff INTEGER",
        [(101, "Acme Robotics", "http://www.acme-robotics.test/", 120), (102, "Globex", "globex.test", 40)],
    ),
    "people": (
        "id INTEGER, company_id INTEGER, fname TEXT, lname TEXT, mail TEXT, level TEXT",
        [
            (1, 101, "Ada", "Lovelace", "ADA@acme-robotics.test", "VP"),
            (2, 102, "Hank", "Scorpio", "hank@globex.test", "Chief"),
        ],
    ),
    "touches": (
        "id INTEGER, company_id INTEGER, person_id INTEGER, type TEXT, at TEXT, summary TEXT",
        [(9, 101, 1, "call", "2026-10-01T10:00:00Z", "Ada wants month-end close in two days.")],
    ),
}


def make_source(path: Path, rows: dict = SOURCE_ROWS) -> str:
    with sqlite3.connect(path) as conn:
        for table, (columns, values) in rows.items():
            conn.execute(f"CREATE TABLE {table} ({columns})")
            marks = ", ".join("?" * len(values[0]))
            conn.executemany(f"INSERT INTO {table} VALUES ({marks})", values)
    return f"sqlite:///{path}"


def write_mapping(folder: Path, source: str) -> Path:
    mapping = {
        "source": source,
        "accounts": {
            "query": "SELECT id, title, url, staff FROM companies",
            "columns": {"external_id": "id", "name": "title", "domain": "url", "employees": "staff"},
        },
        "contacts": {
            "query": "SELECT * FROM people ORDER BY id",
            "columns": {
                "external_id": "id",
                "account": "company_id",
                "first_name": "fname",
                "last_name": "lname",
                "email": "mail",
                "seniority": "level",
            },
            "values": {"seniority": {"VP": "vp", "Chief": "c-level"}},
        },
        "activities": {
            "query": "SELECT * FROM touches",
            "columns": {
                "external_id": "id",
                "account": "company_id",
                "contact": "person_id",
                "kind": "type",
                "occurred_at": "at",
                "body": "summary",
            },
        },
    }
    path = folder / "crm.yaml"
    path.write_text(yaml.safe_dump(mapping))
    return path


def artifacts_of(flow_run_id: UUID) -> dict[str, str]:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    async def read() -> dict[str, str]:
        async with get_client() as client:
            found = await client.read_artifacts(
                artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id]))
            )
            return {a.key: str(a.data) for a in found if a.key}

    return asyncio.run(read())


def crm_rows() -> list[tuple]:
    with session_scope() as s:
        return sorted(
            [("account", a.external_id, a.name, a.domain, a.employees) for a in s.scalars(select(Account))]
            + [
                ("contact", c.external_id, c.email, c.seniority, c.account.external_id)
                for c in s.scalars(select(Contact))
            ]
            + [("activity", a.external_id, a.body, a.contact_id is not None) for a in s.scalars(select(Activity))]
        )


def test_crm_sync_from_a_sql_source_upserts_and_publishes_a_summary(prefect_server, empty_db, tmp_path):
    from flows.data_sync import crm_sync

    mapping = write_mapping(tmp_path, make_source(tmp_path / "their_crm.db"))
    state = crm_sync(mapping=str(mapping), return_state=True)
    assert state.is_completed(), state.message
    result = state.result()
    assert {n: c.added for n, c in result.tables.items()} == {"accounts": 2, "contacts": 2, "activities": 1}
    assert crm_rows() == [
        ("account", "101", "Acme Robotics", "acme-robotics.test", 120),
        ("account", "102", "Globex", "globex.test", 40),
        ("activity", "9", "Ada wants month-end close in two days.", True),
        ("contact", "1", "ada@acme-robotics.test", Seniority.VP, "101"),
        ("contact", "2", "hank@globex.test", Seniority.C_LEVEL, "102"),
    ]
    summary = artifacts_of(state.state_details.flow_run_id)["crm-sync-summary"]
    assert "| accounts | 2 | 0 | 0 | 0 |" in summary and "| activities | 1 | 0 | 0 | 0 |" in summary

    with sqlite3.connect(tmp_path / "their_crm.db") as conn:
        conn.execute("UPDATE companies SET staff = 150 WHERE id = 101")
    again = crm_sync(mapping=str(mapping))
    assert (again.tables["accounts"].updated, again.tables["accounts"].unchanged) == (1, 1)
    assert again.tables["contacts"].unchanged == 2 and again.tables["activities"].unchanged == 1
    assert crm_rows()[0] == ("account", "101", "Acme Robotics", "acme-robotics.test", 150)


def test_an_unreachable_source_fails_the_run_with_its_reason_and_changes_nothing(prefect_server, empty_db, tmp_path):
    from flows.data_sync import crm_sync

    run = crm_sync(mapping=str(write_mapping(tmp_path, make_source(tmp_path / "their_crm.db"))))
    before = crm_rows()
    dead = write_mapping(tmp_path, "postgresql+psycopg://crm@127.0.0.1:9/crm?connect_timeout=2")
    state = crm_sync(mapping=str(dead), return_state=True)
    assert state.is_failed()
    with pytest.raises(ValueError, match=r"query accounts: the source database failed: .*(refused|failed)"):
        state.result()
    assert crm_rows() == before and run.written


def test_a_bad_row_fails_the_sync_writes_nothing_and_shows_the_rejects(prefect_server, empty_db, tmp_path):
    from flows.data_sync import crm_sync

    rows = dict(SOURCE_ROWS)
    columns, people = rows["people"]
    rows["people"] = (columns, [*people, (3, 102, "Mona", "Lisa", "mona.globex.test", "VP")])
    state = crm_sync(
        mapping=str(write_mapping(tmp_path, make_source(tmp_path / "their_crm.db", rows))), return_state=True
    )
    assert state.is_failed()
    assert crm_rows() == []
    rejects = artifacts_of(state.state_details.flow_run_id)["crm-sync-rejects"]
    assert "| contacts | query contacts | 4 | mail | 'mona.globex.test' is not an email address" in rejects


def test_the_sync_deployments_ship_with_their_schedules_off():
    from deployments.serve import build_deployments

    syncs = {d.flow_name: d for d in build_deployments() if d.name == "hourly"}
    assert {name: [(s.schedule.cron, s.active) for s in d.schedules] for name, d in syncs.items()} == {
        "crm-sync": [("0 * * * *", False)],
        "marketplace-sync": [("30 * * * *", False)],
    }


def test_a_sync_failing_after_its_first_table_is_written_leaves_nothing(
    prefect_server, empty_db, tmp_path, monkeypatch
):
    import tasks.sync
    from flows.data_sync import crm_sync

    real = tasks.sync.upsert_table

    def fail_on_contacts(session, checked, ids):  # type: ignore[no-untyped-def]
        if checked.spec.name == "contacts":
            raise RuntimeError("disk full while writing contacts")
        return real(session, checked, ids)

    monkeypatch.setattr(tasks.sync, "upsert_table", fail_on_contacts)
    state = crm_sync(mapping=str(write_mapping(tmp_path, make_source(tmp_path / "their_crm.db"))), return_state=True)
    assert state.is_failed()
    assert crm_rows() == [], "the accounts written before the failure were rolled back with it"


def test_agentflows_run_crm_sync_prints_the_summary(prefect_server, empty_db, tmp_path):
    from typer.testing import CliRunner

    from agentflows.cli import app

    mapping = write_mapping(tmp_path, make_source(tmp_path / "their_crm.db"))
    done = CliRunner().invoke(app, ["run", "crm-sync", "--mapping", str(mapping)])
    assert done.exit_code == 0, done.output
    assert "│ contacts   │     2 │       0 │         0 │        0 │" in done.output, done.output
    dead = write_mapping(tmp_path, "postgresql+psycopg://crm@127.0.0.1:9/crm?connect_timeout=2")
    failed = CliRunner().invoke(app, ["run", "crm-sync", "--mapping", str(dead)])
    assert failed.exit_code == 2 and "query accounts: the source database failed" in failed.output, failed.output
