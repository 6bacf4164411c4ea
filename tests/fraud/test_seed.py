"""The seeded marketplace: big enough, reproducible, idempotent, labelled, with offline coordinates."""

from __future__ import annotations

import time

from sqlalchemy import func, select

from agentflows.db import session_scope
from agentflows.db.fraud import Address, Claim, ClaimLabel, Customer, Order
from agentflows.seed.marketplace import build_marketplace, seed_marketplace


def test_seed_is_big_labelled_and_idempotent(market_db: str) -> None:
    with session_scope() as s:
        customers = s.scalar(select(func.count(Customer.id)))
        orders = s.scalar(select(func.count(Order.id)))
        claims = s.scalar(select(func.count(Claim.id)))
        frauds = s.scalar(select(func.count()).where(ClaimLabel.is_fraud.is_(True)))
        patterns = set(s.scalars(select(ClaimLabel.pattern).distinct()))
        bad_coordinates = s.scalar(select(func.count()).where((Address.lat == 0) | (Address.lat.is_(None))))
    assert customers >= 5000 and orders >= 50_000 and claims >= 2000
    assert 0.03 <= frauds / claims <= 0.12, "fraud planted at a realistic rate"
    assert {"drop-address-ring", "return-fraud", "serial-inr", "stolen-card", "opportunist"} <= patterns
    assert {"benign:moved-away", "benign:household", "benign:traveller", "benign:porch-theft"} <= patterns
    assert bad_coordinates == 0

    started = time.monotonic()
    counts = seed_marketplace()
    assert time.monotonic() - started < 2, "a second seed only checks"
    assert counts["customers"] == customers and counts["orders"] == orders and counts["claims"] == claims


def test_build_is_reproducible() -> None:
    a, b = build_marketplace(), build_marketplace()
    assert a.claims[:50] == b.claims[:50] and a.labels == b.labels and a.addresses[:100] == b.addresses[:100]


def test_seeding_is_quick(empty_db: str) -> None:
    started = time.monotonic()
    seed_marketplace()
    assert time.monotonic() - started < 30
