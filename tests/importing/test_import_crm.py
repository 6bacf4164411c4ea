"""`agentflows import crm` on an export with its own column names: normalised, idempotent, updatable."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from agentflows.cli import app
from agentflows.db import session_scope
from agentflows.db.crm import Account, Activity, ActivityKind, Contact, Deal, DealStage, Seniority
from agentflows.importing import load_mapping, run_import
from tests.importing.conftest import ACCOUNTS, CONTACTS


def counts() -> dict[str, int]:
    with session_scope() as s:
        return {m.__tablename__: s.scalar(select(func.count(m.id))) or 0 for m in (Account, Contact, Deal, Activity)}


def crm() -> dict[str, object]:
    with session_scope() as s:
        return {
            "accounts": sorted(
                (a.external_id, a.name, a.domain, a.website, a.employees) for a in s.scalars(select(Account))
            ),
            "contacts": sorted(
                (c.external_id, c.account.external_id, c.email, c.seniority) for c in s.scalars(select(Contact))
            ),
            "deals": sorted((d.external_id, d.stage, float(d.amount)) for d in s.scalars(select(Deal))),
            "activities": sorted(
                (a.external_id, a.kind, a.contact_id is None, a.body) for a in s.scalars(select(Activity))
            ),
        }


def test_import_maps_their_columns_and_words_and_normalises(empty_db, export):
    result = run_import(load_mapping(export.mapping, "crm"))
    assert {n: c.added for n, c in result.tables.items()} == {"accounts": 2, "contacts": 2, "deals": 1, "activities": 2}
    got = crm()
    assert got["accounts"] == [
        ("A1", "Acme Robotics", "acme-robotics.test", "https://acme-robotics.test/", 120),
        ("A2", "Globex", "globex.test", "https://globex.test/", 40),
    ]
    assert got["contacts"] == [
        ("P1", "A1", "ada.lovelace@acme-robotics.test", Seniority.VP),
        ("P2", "A2", "hank@globex.test", Seniority.C_LEVEL),
    ]
    assert got["deals"] == [("D1", DealStage.OPEN, 24000.0)]
    assert got["activities"] == [
        (
            "E1",
            ActivityKind.CALL,
            False,
            "Ada said their month-end close takes six days,\nand the board wants it in two.",
        ),
        ("E2", ActivityKind.NOTE, True, "Met Hank at the energy summit."),
    ]


def test_reimport_changes_nothing_and_an_updated_export_updates(empty_db, export):
    mapping = load_mapping(export.mapping, "crm")
    run_import(mapping)
    before = crm()
    again = run_import(mapping)
    assert all(c.added == c.updated == 0 for c in again.tables.values()), again.tables
    assert sum(c.unchanged for c in again.tables.values()) == 7
    assert crm() == before

    export.write("accounts.csv", ACCOUNTS.replace("Globex,globex.test,Energy,40", "Globex Corp,globex.test,Energy,45"))
    export.write("contacts.csv", CONTACTS + "P3,A2,Mona,Lisa,mona@globex.test,Analyst,Data,Staff\n")
    updated = run_import(mapping)
    assert (updated.tables["accounts"].updated, updated.tables["accounts"].unchanged) == (1, 1)
    assert (updated.tables["contacts"].added, updated.tables["contacts"].unchanged) == (1, 2)
    assert counts() == {"accounts": 2, "contacts": 3, "deals": 1, "activities": 2}
    with session_scope() as s:
        globex = s.scalar(select(Account).where(Account.external_id == "A2"))
        assert (globex.name, globex.employees) == ("Globex Corp", 45)


def test_dry_run_shows_the_changes_and_writes_nothing(empty_db, export):
    shown = CliRunner().invoke(app, ["import", "crm", "--mapping", str(export.mapping), "--dry-run"])
    assert shown.exit_code == 0, shown.output
    assert "dry run" in shown.output
    assert "│ accounts   │     2 │       0 │         0 │        0 │" in shown.output
    assert counts() == {"accounts": 0, "contacts": 0, "deals": 0, "activities": 0}

    run_import(load_mapping(export.mapping, "crm"))
    export.write("accounts.csv", ACCOUNTS.replace("Globex,", "Globex Corp,"))
    shown = CliRunner().invoke(app, ["import", "crm", "--mapping", str(export.mapping), "--dry-run"])
    assert "│ accounts   │     0 │       1 │         1 │        0 │" in shown.output, shown.output
    with session_scope() as s:
        assert s.scalar(select(Account.name).where(Account.external_id == "A2")) == "Globex"


def test_the_demo_seed_goes_through_the_import(empty_db):
    from agentflows.seed.crm import seed_crm

    seeded = seed_crm()
    assert seeded == {"accounts": 220, "contacts": 1088, "deals": 413, "activities": 1137}
    assert seed_crm() == seeded
    with session_scope() as s:
        assert s.scalar(select(func.count(Contact.id)).where(Contact.external_id.is_(None))) == 0
        first = s.scalar(select(Contact).where(Contact.external_id == "CON-00001"))
        assert first.id == 1 and first.seniority == Seniority.MANAGER  # "Manager" mapped by the example mapping


def test_contacts_alone_may_refer_to_accounts_imported_before(empty_db, export):
    from tests.importing.conftest import MAPPING

    run_import(load_mapping(export.mapping, "crm"))
    export.write(
        "new_contacts.csv", CONTACTS.splitlines()[0] + "\nP7,A1,Grace,Hopper,grace@acme-robotics.test,CTO,IT,CxO\n"
    )
    export.write_mapping({"contacts": MAPPING["contacts"] | {"file": "new_contacts.csv"}})
    result = run_import(load_mapping(export.mapping, "crm"))
    assert result.tables["contacts"].added == 1 and list(result.tables) == ["contacts"]
    with session_scope() as s:
        grace = s.scalar(select(Contact).where(Contact.external_id == "P7"))
        assert grace.account.external_id == "A1" and grace.seniority == Seniority.C_LEVEL


@pytest.mark.parametrize("suffix", [".xlsx", ".parquet"])
def test_excel_and_parquet_exports_import_like_their_csv(empty_db, export, suffix):
    """The same export saved from a spreadsheet (or a data tool) as Excel or Parquet, with the column
    types pandas gives them (numbers as numbers, an empty cell as missing), imports to the same rows."""
    import io

    import pandas as pd
    import yaml

    mapping = yaml.safe_load(export.mapping.read_text())
    for table, spec in mapping.items():
        frame = pd.read_csv(io.StringIO((export.folder / spec["file"]).read_text()))
        target = export.folder / f"{table}{suffix}"
        frame.to_excel(target, index=False) if suffix == ".xlsx" else frame.to_parquet(target, index=False)
        (export.folder / spec["file"]).unlink()  # only the new format is there to read
        spec["file"] = target.name
    export.write_mapping(mapping)

    result = run_import(load_mapping(export.mapping, "crm"))
    assert {n: c.added for n, c in result.tables.items()} == {"accounts": 2, "contacts": 2, "deals": 1, "activities": 2}
    got = crm()
    assert got["accounts"][0] == ("A1", "Acme Robotics", "acme-robotics.test", "https://acme-robotics.test/", 120)
    assert got["contacts"][0] == ("P1", "A1", "ada.lovelace@acme-robotics.test", Seniority.VP)
    assert got["deals"] == [("D1", DealStage.OPEN, 24000.0)]
    assert [(a[0], a[1], a[2]) for a in got["activities"]] == [
        ("E1", ActivityKind.CALL, False),
        ("E2", ActivityKind.NOTE, True),
    ]
