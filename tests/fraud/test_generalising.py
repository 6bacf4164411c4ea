"""A fraud check that does not lean on the seed's habits: stable message similarity, address variants,
carrier-scanned losses, velocity, and the known-fraud-address rule. Hand-built cases (the `shop`
fixture); scores from the set-wise SQL facts and each signal's rule, as the offline agents give them."""

from __future__ import annotations

from pathlib import Path

import yaml

from agentflows.addresses import normalize_address, same_door
from agentflows.fraud_templates import SHIPPED, load_templates, parse_template_text
from agentflows.workspace import SHIPPED as SHIPPED_WORKSPACE
from agentflows.workspace import shipped_snapshot
from agents.fraud.models import SignalName
from agents.workspace import load_workspace
from tasks.fraud.batch import verdicts_batch
from tasks.fraud.conversation import TemplateMatcher
from tasks.fraud.signals import compute_facts, rule_signal
from tests.fraud.builders import Shop

MESSAGES = [
    "Hi, my parcel has not arrived yet, could you check with the courier?",
    "The lamp arrived with a cracked base. Photos attached.",
    "I want a refund immediately or I will call my bank and do a chargeback.",
    "Order #102331. The box was empty when I opened it, nothing inside.",
    "never got it. refund.",
    "Tracking says delivered but nothing was at my door, my neighbours have nothing either.",
]


def test_adding_a_template_leaves_every_similarity_to_the_other_templates_unchanged() -> None:
    """The property the issue asks for: add one template, and every message's similarity to every
    other, unchanged template is exactly what it was (the earlier model refitted on all templates)."""
    shipped = load_templates(SHIPPED)
    new = parse_template_text(
        Path("gift-card-swap.md"),
        "---\nname: gift-card-swap\ntactic: Asks for a gift card instead of a refund\n---\n"
        "Please refund me with a gift card code sent to this other email, the parcel never came.\n\n"
        "Send the refund as store credit to my friend's account immediately.\n",
        "0123456789ab",
    )
    grown = type(shipped)(folder=shipped.folder, templates=(*shipped.templates, new))

    def similarities(templates) -> list[dict[str, float]]:  # type: ignore[no-untyped-def]
        matcher = TemplateMatcher(templates)
        matcher_top = matcher.match  # every template's best example, not only the top three
        import tasks.fraud.conversation as conversation

        old, conversation.TOP_MATCHES = conversation.TOP_MATCHES, len(templates.templates)
        try:
            return [{m.name: m.similarity for m in found} for found in matcher_top(MESSAGES)]
        finally:
            conversation.TOP_MATCHES = old

    before, after = similarities(shipped), similarities(grown)
    for b, a in zip(before, after, strict=True):
        assert set(a) == set(b) | {"gift-card-swap"}
        assert {name: a[name] for name in b} == b
    assert max(a["gift-card-swap"] for a in after) > 0.3  # the new template itself is matched


def signal(name: SignalName, claim_id: int):  # type: ignore[no-untyped-def]
    return rule_signal(name, compute_facts(name, [claim_id])[claim_id])


def test_address_variants_are_the_same_door_and_a_neighbour_is_not(shop: Shop) -> None:
    listed = shop.fraud_address("12 Baker Street")
    for variant in ("12 Bäker St, Flat 4", "APT 4, 12 baker street", "12 Bakre Street", "12 Baker St. #4"):
        c = shop.customer()
        case = shop.claim(shop.order(c, shop.address(variant)))
        facts = compute_facts("address", [case])[case]
        assert facts.on_fraud_list and facts.fraud_match_id == listed, (variant, facts)
        assert signal("address", case).rule_score >= 0.6
    neighbour = shop.claim(shop.order(shop.customer(), shop.address("14 Baker Street, Flat 4")))
    assert not compute_facts("address", [neighbour])[neighbour].on_fraud_list
    assert "neighbour" in signal("address", neighbour).summary
    assert not same_door(
        normalize_address("12 Baker St, Flat 4", "NW1", "GB"), normalize_address("12 Baker St, Flat 5", "NW1", "GB")
    )


def test_variants_of_one_door_count_together_as_a_shared_address(shop: Shop) -> None:
    for name, line in [
        ("Novak", "7 Mill Lane"),
        ("Okafor", "7 MILL LN, Flat 2"),
        ("Moreau", "7 Mil Lane"),
        ("Tanaka", "Apt 2, 7 Mill Lane"),
    ]:
        other = shop.customer(last_name=name, signup_days=20)
        shop.order(other, shop.address(line, postcode="M1 1AA", customer=other))
    claimant = shop.customer(last_name="Byrne", signup_days=15)
    case = shop.claim(shop.order(claimant, shop.address("7 Mill Lane", postcode="m1 1aa")))
    facts = compute_facts("address", [case])[case]
    assert facts.unrelated_customers == 4, facts
    assert signal("address", case).rule_score >= 0.8


def test_a_burst_of_expensive_orders_on_a_new_account_is_velocity_and_a_sale_on_an_old_one_is_not(shop: Shop) -> None:
    def burst(signup_days: float) -> int:
        c = shop.customer(signup_days=signup_days)
        home = shop.address(f"{int(signup_days)} Oak Road", customer=c)
        orders = [shop.order(c, home, days=12 - i * 0.5, amount=700) for i in range(4)]
        return shop.claim(orders[0], days=5)

    young, old = burst(20), burst(1500)
    facts = compute_facts("customer", [young])[young]
    assert facts.orders_recent == 4 and facts.value_recent == 2800
    s = signal("customer", young)
    assert s.rule_score >= 0.8 and "4 orders worth" in s.summary
    assert signal("customer", old).rule_score < 0.3


def test_one_card_emptied_through_several_new_accounts_is_one_burst(shop: Shop) -> None:
    """Per account each of three new accounts placed one order; the processor's card token shows one card."""
    claims = []
    for n in range(3):
        c = shop.customer(signup_days=15)
        home = shop.address(f"{n + 3} Mill Lane", customer=c)
        claims.append(shop.claim(shop.order(c, home, days=10 - n, amount=450, card_ref="tok_4f2a"), days=4))
    facts = compute_facts("customer", claims)
    last = facts[claims[-1]]
    assert last.orders_recent == 1, "per account nothing is unusual"
    assert last.card_known and last.card_orders_recent == 3 and last.card_accounts_recent == 3
    assert last.card_value_recent == 1350
    s = signal("customer", claims[-1])
    assert s.rule_score >= 0.5 and "on the same card across 3 accounts" in " ".join(e.detail for e in s.evidence)
    assert "tok_4f2a" not in s.summary + " ".join(e.detail for e in s.evidence), "the card token is never shown"

    # Without a token the same orders are three unrelated first orders.
    alone = []
    for n in range(3):
        c = shop.customer(signup_days=15)
        home = shop.address(f"{n + 3} Elm Lane", customer=c)
        alone.append(shop.claim(shop.order(c, home, days=10 - n, amount=450), days=4))
    unknown = compute_facts("customer", alone)[alone[-1]]
    assert not unknown.card_known and unknown.card_orders_recent == 1
    assert signal("customer", alone[-1]).rule_score < s.rule_score


def test_a_loss_the_carrier_scanned_is_not_suspicious_in_the_signal_nor_the_instructions(shop: Shop) -> None:
    c = shop.customer(signup_days=900)
    home = shop.address("1 Station Road")
    for days in (400, 300, 200):  # earlier parcels the carrier lost, each claimed
        shop.claim(shop.order(c, home, days=days + 10, scans=("shipped", "lost")), days=days)
    twice = shop.order(c, home, days=40, scans=("shipped", "in_transit", "lost", "lost"))
    s = signal("tracking", shop.claim(twice, days=30))
    assert s.rule_score < 0.2 and "carrier failure" in s.summary
    assert signal("customer", shop.claim(twice, days=29)).rule_score < 0.2  # carrier losses are not claims against them
    spec = yaml.safe_load((SHIPPED_WORKSPACE / "agents/fraud-signal-tracking.yaml").read_text())
    said = " ".join(spec["instructions"].split())
    assert "carrier itself scanned lost and never delivered is a carrier failure" in said
    assert "lost scans" not in said.split("Not suspicious")[0], "the suspicious list must not name lost scans"


def test_disputing_delivery_scans_again_weighs_more_than_a_loyal_customers_broken_items(shop: Shop) -> None:
    """History by outcome: an earlier 'not received' on a parcel scanned delivered is a repeat dispute;
    the same number of broken-item claims, or an old dispute, is an ordinary customer's record."""

    def customer_with(kind: str, days_ago: float) -> int:
        c = shop.customer(signup_days=900)
        home = shop.address(f"{int(days_ago)} {kind} Lane", customer=c)
        shop.claim(shop.order(c, home, days=days_ago + 5), kind=kind, days=days_ago)
        return shop.claim(shop.order(c, home, days=15), days=8)  # now: "not received", scanned delivered

    disputed_again = customer_with("not_received", days_ago=90)
    broken_before = customer_with("arrived_broken", days_ago=90)
    old_dispute = customer_with("not_received", days_ago=700)

    facts = compute_facts("customer", [disputed_again, broken_before])
    assert facts[disputed_again].prior_disputed_deliveries_weighted > 0.6
    assert facts[broken_before].prior_disputed_deliveries_weighted == 0
    assert facts[broken_before].prior_claims_weighted == facts[disputed_again].prior_claims_weighted
    repeat = signal("customer", disputed_again)
    assert repeat.rule_score >= 0.4 and "scanned delivered" in repeat.summary
    assert signal("customer", broken_before).rule_score < 0.2
    assert signal("customer", old_dispute).rule_score < 0.2  # 700 days ago weighs about a tenth


def test_the_known_fraud_address_rule_never_clears(shop: Shop) -> None:
    """An established customer, nothing else suspicious, delivering to a listed address written another
    way: the risk alone would clear it; the shipped hard rule sends it to review."""
    shop.fraud_address("5 Harbour Street, Flat 1")
    c = shop.customer(signup_days=2000)
    case = shop.claim(shop.order(c, shop.address("Flat 1, 5 Hárbour St"), scans=("shipped", "lost")), days=20)
    workspace = load_workspace(shipped_snapshot())
    [verdict] = verdicts_batch([case], workspace=workspace).values()
    assert verdict.risk < workspace.fraud.calibration.review_threshold
    assert verdict.decision == "review" and "known-fraud-address" in verdict.rule
