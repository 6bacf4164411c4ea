"""A small CRM export with its own column names and words, as a team would hand it over."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

ACCOUNTS = """Acct No,Company Name,Web,Sector,Headcount,Territory
A1,Acme Robotics,https://www.Acme-Robotics.test/about?ref=crm,Manufacturing,120,DACH
A2,Globex,globex.test,Energy,40,Nordics
"""
CONTACTS = """Person,Org,Given,Family,E-mail,Job Title,Team,Level
P1,A1,Ada,Lovelace, Ada.Lovelace@ACME-Robotics.test ,VP Engineering,Engineering,Vice-President
P2,A2,Hank,Scorpio,hank@globex.test,Chief Executive Officer,Executive,CxO
"""
DEALS = """Opp,Org,Opportunity,Line,Phase,Value
D1,A1,Pipelines for Acme,Data Pipelines,Negotiation,24000
"""
ACTIVITIES = """Ref,Org,Person,What,When,Title,Text
E1,A1,P1,Phone,2026-10-01 10:00,Discovery call,"Ada said their month-end close takes six days,
and the board wants it in two."
E2,A2,,Memo,2026-09-12T08:30:00Z,Trade show,Met Hank at the energy summit.
"""

MAPPING = {
    "accounts": {
        "file": "accounts.csv",
        "columns": {
            "external_id": "Acct No",
            "name": "Company Name",
            "domain": "Web",
            "industry": "Sector",
            "employees": "Headcount",
            "region": "Territory",
        },
    },
    "contacts": {
        "file": "contacts.csv",
        "columns": {
            "external_id": "Person",
            "account": "Org",
            "first_name": "Given",
            "last_name": "Family",
            "email": "E-mail",
            "role": "Job Title",
            "department": "Team",
            "seniority": "Level",
        },
        "values": {"seniority": {"Vice-President": "vp", "CxO": "c-level", "Staff": "individual"}},
    },
    "deals": {
        "file": "deals.csv",
        "columns": {
            "external_id": "Opp",
            "account": "Org",
            "name": "Opportunity",
            "product": "Line",
            "stage": "Phase",
            "amount": "Value",
        },
        "values": {"stage": {"Negotiation": "open", "Signed": "won"}},
    },
    "activities": {
        "file": "activities.csv",
        "columns": {
            "external_id": "Ref",
            "account": "Org",
            "contact": "Person",
            "kind": "What",
            "occurred_at": "When",
            "subject": "Title",
            "body": "Text",
        },
        "values": {"kind": {"Phone": "call", "Memo": "note"}},
    },
}


class Export:
    """The export folder: `write` replaces a file, `mapping` is the mapping file's path."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.mapping = folder / "crm.yaml"
        self.write_mapping(MAPPING)
        for name, text in {
            "accounts": ACCOUNTS,
            "contacts": CONTACTS,
            "deals": DEALS,
            "activities": ACTIVITIES,
        }.items():
            self.write(f"{name}.csv", text)

    def write(self, name: str, text: str, encoding: str = "utf-8") -> Path:
        path = self.folder / name
        path.write_bytes(text.encode(encoding))
        return path

    def write_mapping(self, document: dict) -> None:
        self.mapping.write_text(yaml.safe_dump(document, sort_keys=False))


@pytest.fixture
def export(tmp_path: Path) -> Export:
    folder = tmp_path / "export"
    folder.mkdir()
    return Export(folder)
