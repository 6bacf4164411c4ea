"""Bad input: every problem named with file, line and column, and nothing written unless --skip-bad."""

from __future__ import annotations

import csv

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from agentflows.cli import app
from agentflows.db import session_scope
from agentflows.db.crm import Account, Contact
from tests.importing.conftest import ACCOUNTS, CONTACTS, MAPPING


def rows_in_db() -> int:
    with session_scope() as s:
        return (s.scalar(select(func.count(Account.id))) or 0) + (s.scalar(select(func.count(Contact.id))) or 0)


def run(export, *extra: str):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(app, ["import", "crm", "--mapping", str(export.mapping), *extra])


def flat(text: str) -> str:
    """The output with rich's table borders and wrapping removed, so a message reads as one line."""
    return " ".join(part.strip(" │┃") for part in text.split())


BAD_CONTACT_ROWS = {
    "unknown account": (
        "P3,A9,Ann,Other,ann@globex.test,CFO,Finance,CxO",
        "contacts.csv, line 4, column 'Org': accounts 'A9' is not in the accounts file (accounts.csv) "
        "nor in the database",
    ),
    "invalid email": (
        "P3,A2,Ann,Other,ann.at.globex,CFO,Finance,CxO",
        "contacts.csv, line 4, column 'E-mail': 'ann.at.globex' is not an email address (expected name@company.tld)",
    ),
    "duplicate external id": (
        "P1,A2,Ann,Other,ann@globex.test,CFO,Finance,CxO",
        "contacts.csv, line 4, column 'Person': duplicate external id 'P1': already on line 2",
    ),
    "unmapped seniority": (
        "P3,A2,Ann,Other,ann@globex.test,CFO,Finance,Big Boss",
        "contacts.csv, line 4, column 'Level': 'Big Boss' is not mapped: add it under contacts.values.seniority in the "
        "mapping file, e.g. `Big Boss: c-level` (our values: c-level, vp, director, manager, individual)",
    ),
}


@pytest.mark.parametrize("case", BAD_CONTACT_ROWS)
def test_a_bad_contact_row_is_reported_and_nothing_is_written(empty_db, export, case):
    row, message = BAD_CONTACT_ROWS[case]
    export.write("contacts.csv", CONTACTS + row + "\n")
    done = run(export)
    assert done.exit_code == 1
    assert message in done.output.splitlines(), done.output
    assert "nothing written" in done.output
    assert rows_in_db() == 0, "the good rows of the other files were not written either"


def test_a_non_numeric_employees_value(empty_db, export):
    export.write("accounts.csv", ACCOUNTS + "A3,Initech,initech.test,Software,about fifty,APAC\n")
    done = run(export)
    assert done.exit_code == 1
    assert (
        "accounts.csv, line 4, column 'Headcount': "
        "Input should be a valid integer, unable to parse string as an integer" in done.output.splitlines()
    ), done.output
    assert rows_in_db() == 0


FILE_PROBLEMS = {
    "a mapped column missing from the file": (
        lambda e: e.write("contacts.csv", CONTACTS.replace("E-mail", "Mail")),
        "contacts.csv, line 1, column 'E-mail': column 'E-mail' (mapped to email) is not in the file; its columns are: "
        "Person, Org, Given, Family, Mail, Job Title, Team, Level",
    ),
    "a missing file": (
        lambda e: (e.folder / "deals.csv").unlink(),
        "deals.csv: file not found",
    ),
    "an empty file": (
        lambda e: e.write("contacts.csv", ""),
        "contacts.csv: line 1: the file is empty",
    ),
    "a file in the wrong encoding": (
        lambda e: e.write("contacts.csv", CONTACTS + "P3,A2,René,Müller,rene@globex.test,CFO,Finance,CxO\n", "latin-1"),
        f"contacts.csv: line 4: not UTF-8 (byte 0xE9 at byte offset {len(CONTACTS) + len('P3,A2,Ren')})",
    ),
}


@pytest.mark.parametrize("case", FILE_PROBLEMS)
def test_a_file_problem_stops_the_import_even_with_skip_bad(empty_db, export, case):
    spoil, message = FILE_PROBLEMS[case]
    spoil(export)
    done = run(export, "--skip-bad")
    assert done.exit_code != 0
    assert message in flat(done.output), done.output
    assert rows_in_db() == 0


def test_a_mapping_naming_a_field_we_do_not_have(empty_db, export):
    export.write_mapping(
        MAPPING | {"accounts": MAPPING["accounts"] | {"columns": {"external_id": "Acct No", "nmae": "X"}}}
    )
    done = run(export)
    assert done.exit_code == 2
    assert "accounts.columns names fields we do not have: nmae" in flat(done.output), done.output


def test_utf8_with_a_byte_order_mark_is_accepted(empty_db, export):
    export.write("contacts.csv", "\ufeff" + CONTACTS.replace("Hank", "Håkon"))
    done = run(export)
    assert done.exit_code == 0, done.output
    with session_scope() as s:
        assert s.scalar(select(Contact.first_name).where(Contact.external_id == "P2")) == "Håkon"


def test_skip_bad_writes_the_good_rows_and_a_rejects_file(empty_db, export):
    export.write(
        "contacts.csv",
        CONTACTS
        + "P3,A2,Ann,Other,not-an-email,CFO,Finance,CxO\n"
        + "P4,A9,Bob,Other,bob@globex.test,CTO,Engineering,CxO\n",
    )
    export.write("accounts.csv", ACCOUNTS + "A3,Initech,initech.test,Software,lots,APAC\n")
    export.write(
        "activities.csv",
        "Ref,Org,Person,What,When,Title,Text\nE9,A3,,Memo,2026-01-01,Note,on the rejected account\n",
    )
    done = run(export, "--skip-bad")
    assert done.exit_code == 0, done.output
    with session_scope() as s:
        assert sorted(s.scalars(select(Contact.external_id))) == ["P1", "P2"]
        assert sorted(s.scalars(select(Account.external_id))) == ["A1", "A2"]
    with (export.folder / "contacts.rejects.csv").open(newline="") as f:
        rejected = list(csv.DictReader(f))
    assert [(r["Person"], r["line"]) for r in rejected] == [("P3", "4"), ("P4", "5")]
    assert "'not-an-email' is not an email address" in rejected[0]["reason"]
    assert "accounts 'A9' is not in the accounts file" in rejected[1]["reason"]
    with (export.folder / "activities.rejects.csv").open(newline="") as f:
        (activity,) = list(csv.DictReader(f))
    assert activity["reason"] == "accounts 'A3' is rejected (accounts.csv line 4)"
    assert (export.folder / "accounts.rejects.csv").is_file()


def test_an_email_that_belongs_to_another_contact_in_the_database_is_a_bad_row(empty_db, export):
    assert run(export).exit_code == 0
    header, _ada, hank = CONTACTS.splitlines()
    export.write("contacts.csv", f"{header}\n{hank.replace('hank@globex.test', 'ada.lovelace@acme-robotics.test')}\n")
    done = run(export)
    assert done.exit_code == 1
    assert (
        "contacts.csv, line 2, column 'E-mail': email 'ada.lovelace@acme-robotics.test' belongs to contacts 'P1' "
        "in the database"
    ) in done.output.splitlines(), done.output
    with session_scope() as s:
        assert s.scalar(select(Contact.email).where(Contact.external_id == "P2")) == "hank@globex.test"
