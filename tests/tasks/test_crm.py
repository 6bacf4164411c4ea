"""CRM tasks: unknown prospects are named up front; history loads set-wise; writes are idempotent."""

from __future__ import annotations

import pytest
from sqlalchemy import event, func, select

from agentflows.db import get_engine, session_scope
from agentflows.db.crm import Activity, ActivityKind, Contact
from agentflows.settings import get_settings
from tasks.crm import UnknownProspectsError, load_history_sync, load_profiles_sync, record_activity_sync


def test_unknown_prospect_ids_are_all_named(seeded_db):
    with pytest.raises(UnknownProspectsError) as info:
        load_profiles_sync([1, 999_999, 2, 888_888])
    assert info.value.unknown == [888_888, 999_999]
    assert "888888" in str(info.value) and "agentflows prospects" in str(info.value)


def test_profiles_know_customers_and_products(seeded_db):
    profiles = load_profiles_sync(list(range(1, 301)))
    customers = [p for p in profiles.values() if p.is_customer]
    assert customers and all(p.products_owned for p in customers)
    assert any(not p.is_customer for p in profiles.values())


def test_history_of_many_accounts_takes_two_queries(seeded_db):
    statements: list[str] = []
    engine = get_engine(get_settings().db_url)
    listener = lambda *args: statements.append(args[2])  # noqa: E731
    event.listen(engine, "before_cursor_execute", listener)
    try:
        history = load_history_sync(list(range(1, 101)), limit=5)
    finally:
        event.remove(engine, "before_cursor_execute", listener)
    assert len([s for s in statements if s.lstrip().upper().startswith("SELECT")]) == 2
    assert len(history) >= 90
    for items in history.values():
        assert sum(1 for h in items if h.ref.startswith("crm:activity")) <= 5
        assert [h.when for h in items] == sorted((h.when for h in items), reverse=True)


def test_activity_write_is_idempotent(seeded_db):
    with session_scope() as s:
        contact = s.scalar(select(Contact).limit(1))
    kwargs = dict(
        account_id=contact.account_id, contact_id=contact.id, kind=ActivityKind.NOTE, subject="s", body="b", details={}
    )
    first = record_activity_sync(idempotency_key="k-1", **kwargs)
    second = record_activity_sync(idempotency_key="k-1", **kwargs)
    assert first == second
    with session_scope() as s:
        assert s.scalar(select(func.count()).where(Activity.idempotency_key == "k-1")) == 1


def _crm_fingerprint() -> list[tuple[str, str, str]]:
    with session_scope() as s:
        return [(c.email, c.role, c.account.domain) for c in s.scalars(select(Contact).order_by(Contact.id))]


def test_seed_is_reproducible_and_idempotent(monkeypatch, tmp_path):
    from agentflows.seed.crm import seed_crm
    from tests.conftest import use_database

    fingerprints = []
    for name in ("one", "two"):
        use_database(monkeypatch, f"sqlite:///{tmp_path / name}.db")
        counts = seed_crm()
        assert counts["accounts"] >= 200 and counts["contacts"] >= 1000
        assert counts["deals"] > 100 and counts["activities"] > 500
        assert seed_crm() == counts, "a second seed adds nothing"
        fingerprints.append(_crm_fingerprint())
    get_settings.cache_clear()
    assert fingerprints[0] == fingerprints[1], "two machines seed the same CRM"
