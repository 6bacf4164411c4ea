"""Each signal on hand-built cases: the fraud pattern it catches and the benign look-alike it must
not confuse with it. Facts come from the set-wise SQL code, scores from the signal's rule (the
offline agent's answer)."""

from __future__ import annotations

import pytest
from sqlalchemy import event

from agentflows.db import get_engine
from agentflows.settings import get_settings
from agents.fraud.models import Signal, SignalName
from tasks.fraud.signals import assess_batch, compute_facts, rule_signal
from tests.fraud.builders import MADRID, MANCHESTER, Shop


def signal(name: SignalName, claim_id: int) -> Signal:
    facts = compute_facts(name, [claim_id])
    return rule_signal(name, facts[claim_id])


# --- address ------------------------------------------------------------------------------------------


def test_address_fuzzy_match_on_the_fraud_list_is_the_same_door(shop: Shop) -> None:
    listed = shop.fraud_address("12 Bakr Street, Flat 4")  # typo in the list, other flat word
    c = shop.customer()
    oid = shop.order(c, shop.address("Apt 4, 12 Baker St."))
    s = signal("address", shop.claim(oid))
    assert s.rule_score >= 0.8
    assert f"fraud_address:{listed}" in {e.ref for e in s.evidence}
    assert "matches known fraud address" in s.summary


def test_address_neighbour_of_a_fraud_address_is_not_a_match(shop: Shop) -> None:
    shop.fraud_address("14 Baker Street, Flat 4")
    c = shop.customer()
    oid = shop.order(c, shop.address("12 Baker Street, Flat 4"))
    s = signal("address", shop.claim(oid))
    assert 0 < s.rule_score < 0.3
    assert "neighbour" in s.summary


def test_address_reused_by_unrelated_customers_is_a_drop(shop: Shop) -> None:
    for name in ["Novak", "Okafor", "Lindqvist", "Moreau", "Tanaka"]:
        other = shop.customer(last_name=name, signup_days=20)
        shop.order(other, shop.address("7 Mill Lane", postcode="M1 1AA", customer=other))
    claimant = shop.customer(last_name="Byrne", signup_days=15)
    oid = shop.order(claimant, shop.address("7 Mill Ln.", postcode="m11aa"))
    case = shop.claim(oid)
    s = signal("address", case)
    facts = compute_facts("address", [case])[case]
    assert facts.customers_at_address == 6 and facts.unrelated_customers == 5
    assert s.rule_score >= 0.8


def test_address_shared_by_a_household_is_benign(shop: Shop) -> None:
    for _ in range(2):
        relative = shop.customer(last_name="Kowalski")
        shop.order(relative, shop.address("3 Oak Road", customer=relative))
    claimant = shop.customer(last_name="Kowalski")
    oid = shop.order(claimant, shop.address("3 Oak Rd"))
    s = signal("address", shop.claim(oid))
    assert s.rule_score == 0.0
    assert "household" in s.summary


# --- return distance -------------------------------------------------------------------------------------


def test_return_from_far_away_and_nowhere_the_customer_lives_is_suspicious(shop: Shop) -> None:
    home = shop.address("1 Station Road")
    c = shop.customer(home=home)
    oid = shop.order(c, home, days=40)
    shop.returned(oid, shop.address("99 Calle Mayor", postcode="28013", city="Madrid", country="ES", at=MADRID))
    s = signal("return_distance", shop.claim(oid, kind="arrived_broken", days=20))
    assert s.rule_score >= 0.75
    assert "from nowhere the customer is known at" in s.summary


def test_return_from_the_new_home_of_a_customer_who_moved_is_benign(shop: Shop) -> None:
    old_home = shop.address("1 Station Road")
    c = shop.customer()
    oid = shop.order(c, old_home, days=60)
    new_home = shop.address("5 Deansgate", postcode="M3 2BW", city="Manchester", at=MANCHESTER, customer=c)
    shop.order(c, new_home, days=30)  # ordered at the new address since moving
    shop.returned(oid, new_home, days=25)
    case = shop.claim(oid, kind="refund_request", days=20)
    s = signal("return_distance", case)
    facts = compute_facts("return_distance", [case])[case]
    assert facts.distance_km is not None and facts.distance_km > 200
    assert facts.nearest_own_address_km is not None and facts.nearest_own_address_km < 1
    assert s.rule_score == 0.2


def test_no_return_means_nothing_to_judge(shop: Shop) -> None:
    c = shop.customer()
    oid = shop.order(c, shop.address("1 Station Road"))
    assert signal("return_distance", shop.claim(oid)).rule_score == 0.0


# --- customer --------------------------------------------------------------------------------------------


def test_new_account_with_an_expensive_first_order_is_risky(shop: Shop) -> None:
    c = shop.customer(signup_days=26)
    oid = shop.order(c, shop.address("1 Station Road"), days=25, amount=950)
    s = signal("customer", shop.claim(oid, days=20))
    assert s.rule_score >= 0.6
    assert "new account" in s.summary and "usual basket" in s.summary


def test_repeated_claims_within_a_year_are_risky_and_a_loyal_customer_is_not(shop: Shop) -> None:
    serial = shop.customer(signup_days=2000)
    home = shop.address("1 Station Road")
    for days in (300, 200, 100):
        shop.claim(shop.order(serial, home, days=days + 10), days=days)
    last = shop.claim(shop.order(serial, home, days=40), days=30)
    loyal = shop.customer(signup_days=2000, last_name="Jones")
    for days in range(400, 40, -20):
        shop.order(loyal, home, days=days, amount=80)
    one = shop.claim(shop.order(loyal, home, days=35, amount=90), days=30)
    assert signal("customer", last).rule_score >= 0.7
    assert signal("customer", one).rule_score == 0.0


# --- tracking --------------------------------------------------------------------------------------------


def test_delivered_then_claimed_again_and_again_is_high(shop: Shop) -> None:
    c = shop.customer()
    home = shop.address("1 Station Road")
    for days in (300, 200):
        shop.claim(shop.order(c, home, days=days + 10), days=days)
    s = signal("tracking", shop.claim(shop.order(c, home, days=40), days=30))
    assert s.rule_score >= 0.85
    assert "2 earlier not-received claims" in s.summary


def test_a_parcel_the_carrier_lost_is_a_carrier_failure(shop: Shop) -> None:
    c = shop.customer(signup_days=20)
    oid = shop.order(c, shop.address("1 Station Road"), days=18, scans=("shipped", "in_transit", "lost"))
    s = signal("tracking", shop.claim(oid, days=10))
    assert s.rule_score < 0.1
    assert "carrier failure" in s.summary


def test_single_porch_theft_is_moderate_not_conclusive(shop: Shop) -> None:
    c = shop.customer()
    s = signal("tracking", shop.claim(shop.order(c, shop.address("1 Station Road"), days=30), days=25))
    assert s.rule_score == pytest.approx(0.45)


# --- payment ---------------------------------------------------------------------------------------------


def test_card_testing_burst_and_foreign_card_is_high(shop: Shop) -> None:
    c = shop.customer(signup_days=12)
    for days in (11.9, 11.5, 11.2, 10.8):
        shop.incident(c, "decline", days, card_country="BR")
    oid = shop.order(c, shop.address("1 Station Road"), days=10.5, amount=700, card_country="BR")
    s = signal("payment", shop.claim(oid, days=5))
    assert s.rule_score >= 0.75
    assert "card testing" in s.summary


def test_a_traveller_with_one_decline_stays_below_half(shop: Shop) -> None:
    c = shop.customer()
    shop.incident(c, "decline", 40, card_country="US")
    oid = shop.order(c, shop.address("1 Station Road"), days=30, card_country="US")
    s = signal("payment", shop.claim(oid, days=20))
    assert 0.3 < s.rule_score < 0.5


# --- conversation ----------------------------------------------------------------------------------------


def test_a_copied_template_matches_and_records_its_version(shop: Shop) -> None:
    from agentflows.fraud_templates import load_templates

    version = {t.name: t.version for t in load_templates().templates}["empty-box"]
    c = shop.customer()
    home = shop.address("1 Station Road")
    copied = shop.claim(
        shop.order(c, home),
        kind="arrived_broken",
        message="Order #123. I opened the box and it was totally empty, nothing inside. The seal looked tampered. "
        "I need a whole refund right now.",
    )
    honest = shop.claim(
        shop.order(c, home),
        kind="arrived_broken",
        message="Hello, the lamp arrived with a cracked base. I've attached photos. Could I get a replacement?",
    )
    s = signal("conversation", copied)
    assert s.rule_score >= 0.8
    assert f"template:empty-box@{version}" in {e.ref for e in s.evidence}
    assert signal("conversation", honest).rule_score < 0.2


# --- set-wise --------------------------------------------------------------------------------------------


def test_batch_equals_per_claim_and_costs_the_same_queries(market_db: str, template_dir) -> None:  # type: ignore[no-untyped-def]
    """200 claims at once give exactly what 200 single-claim calls give, with the same query count as one."""
    from agentflows.fraud_templates import load_templates

    templates = load_templates()
    ids = list(range(1, 2001, 10))
    statements: list[str] = []
    engine = get_engine(get_settings().db_url)

    def count(*_args) -> None:  # type: ignore[no-untyped-def]
        statements.append("q")

    event.listen(engine, "before_cursor_execute", count)
    try:
        batch = assess_batch(ids, templates)
        batch_queries = len(statements)
        statements.clear()
        single = {cid: assess_batch([cid], templates)[cid] for cid in ids[:20]}
        per_claim_queries = len(statements) / 20
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert batch_queries == per_claim_queries, "a batch must cost the same number of queries as one claim"
    assert batch_queries <= 25
    for cid, signals in single.items():
        assert {n: s.rule_score for n, s in signals.items()} == {n: s.rule_score for n, s in batch[cid].items()}
