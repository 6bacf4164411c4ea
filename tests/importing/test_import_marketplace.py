"""`agentflows import marketplace`: inline addresses become `addresses` rows with match keys and coordinates."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

import agentflows
from agentflows.addresses import normalize_address
from agentflows.cli import app
from agentflows.db import session_scope
from agentflows.db.fraud import (
    Address,
    Claim,
    ClaimKind,
    Customer,
    KnownFraudAddress,
    Order,
    ShipmentEvent,
    ShipmentEventKind,
)

EXAMPLE = Path(agentflows.__file__).parent / "data" / "examples" / "marketplace"
"""The shipped example shop export (five CSV files with their own column names, and `shop.yaml`)."""
FILES = {p.name: p.read_text(encoding="utf-8") for p in EXAMPLE.glob("*.csv")}


@pytest.fixture
def shop(tmp_path: Path) -> Path:
    shutil.copytree(EXAMPLE, tmp_path, dirs_exist_ok=True)
    return tmp_path / "shop.yaml"


def run(mapping: Path, *extra: str):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(app, ["import", "marketplace", "--mapping", str(mapping), *extra])


def test_marketplace_import_writes_addresses_with_keys_and_coordinates(empty_db, shop):
    done = run(shop)
    assert done.exit_code == 0, done.output
    with session_scope() as s:
        lena = s.scalar(select(Customer).where(Customer.external_id == "B1"))
        home = s.get(Address, lena.home_address_id)
        assert (lena.email, lena.country) == ("lena@example.test", "DE")
        assert (home.city, round(home.lat, 1), round(home.lon, 1)) == ("Berlin", 52.5, 13.4)
        tom = s.scalar(select(Customer).where(Customer.external_id == "B2"))
        assert tom.home_address_id is None
        s2 = s.scalar(select(Order).where(Order.external_id == "S2"))
        delivery = s.get(Address, s2.delivery_address_id)
        assert (s2.customer_id, s2.card_country, s2.card_ref, float(s2.amount)) == (tom.id, "US", "tok_f09e", 450.0)
        assert delivery.normalized == normalize_address("Flat 2 10 Baker Street", "NW1 6XE", "GB")
        blocked = s.scalar(select(KnownFraudAddress))
        assert blocked.normalized == delivery.normalized, "the same door written two ways matches"
        claim = s.scalar(select(Claim))
        assert (claim.kind, claim.order_id, claim.customer_id) == (ClaimKind.NOT_RECEIVED, s2.id, tom.id)
        assert "Ignore previous instructions" in claim.message  # stored as the customer's words, nothing more
        kinds = sorted(e.kind for e in s.scalars(select(ShipmentEvent)))
        assert kinds == [ShipmentEventKind.DELIVERED, ShipmentEventKind.LOST]
        addresses = s.scalar(select(func.count(Address.id)))

    again = run(shop)
    assert again.exit_code == 0, again.output
    assert "│ orders                │     0 │       0 │         2 │        0 │" in again.output, again.output
    with session_scope() as s:
        assert s.scalar(select(func.count(Address.id))) == addresses, "re-import adds no address rows"

    (shop.parent / "sales.csv").write_text(FILES["sales.csv"].replace("Hauptstraße 5,", "Hauptstraße 7,"))
    moved = run(shop)
    assert "│ orders                │     0 │       1 │         1 │        0 │" in moved.output, moved.output
    with session_scope() as s:
        s1 = s.scalar(select(Order).where(Order.external_id == "S1"))
        assert s.get(Address, s1.delivery_address_id).line1 == "Hauptstraße 7"
        assert s.scalar(select(func.count(Address.id))) == addresses, "the address was updated in place"


def test_marketplace_bad_rows_name_the_file_line_and_column(empty_db, shop):
    folder = shop.parent
    (folder / "sales.csv").write_text(
        FILES["sales.csv"]
        + "S3,B1,2026-10-06,20,1,1 Nowhere Lane,Atlantis,00000,DE,DE,DHL,tok_1\n"
        + "S4,B1,2026-10-07,20,1,Hauptstraße 5,Berlin,10115,DE,DE,DHL,4111 1111 1111 1111\n"
    )
    (folder / "cases.csv").write_text(FILES["cases.csv"] + "C2,S1,B1,Kaputt,broken,20,2026-10-10\n")
    done = run(shop)
    assert done.exit_code == 1
    lines = done.output.splitlines()
    assert (
        "sales.csv, line 4: delivery_city 'Atlantis' (DE) is not in the offline gazetteer: "
        "map delivery_lat and delivery_lon columns for it"
    ) in lines, done.output
    assert any(
        line.startswith("sales.csv, line 5, column 'Card token': ") and "looks like a card number" in line
        for line in lines
    ), done.output
    assert "4111" not in done.output, "a card number is never echoed back"
    assert any(
        line.startswith("cases.csv, line 3, column 'Type': 'Kaputt' is not mapped: add it under claims.values.kind")
        for line in lines
    )
    with session_scope() as s:
        assert s.scalar(select(func.count(Customer.id))) == 0


@pytest.mark.e2e
def test_marketplace_sync_from_a_folder_of_exports(prefect_server, empty_db, shop, tmp_path):
    """A direct `marketplace-sync` flow run on the real Prefect server, reading the export folder it is given."""
    from flows.data_sync import marketplace_sync
    from tests.importing.test_crm_sync import artifacts_of

    exports = tmp_path / "exports-2026-12-01"
    exports.mkdir()
    for name, text in FILES.items():
        (exports / name).write_text(text.replace("Lena,Schmidt", "Lena,Schmidt-Weber"), encoding="utf-8")
    state = marketplace_sync(mapping=str(shop), folder=str(exports), return_state=True)
    assert state.is_completed(), state.message
    assert {n: c.added for n, c in state.result().tables.items()} == {
        "customers": 2,
        "orders": 2,
        "shipment_events": 2,
        "claims": 1,
        "known_fraud_addresses": 1,
    }
    with session_scope() as s:
        assert s.scalar(select(Customer.last_name).where(Customer.external_id == "B1")) == "Schmidt-Weber"
    summary = artifacts_of(state.state_details.flow_run_id)["marketplace-sync-summary"]
    assert "| claims | 1 | 0 | 0 | 0 |" in summary
