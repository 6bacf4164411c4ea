"""The planted claims: each fraud pattern and each benign look-alike as one generator of one shape.

Every pattern is `plant(builder, n) -> Iterator[PlantedClaim]`: it draws its customers, orders,
scans, returns and payment incidents through the builder's primitives and yields the claims it
makes; the builder stamps each claim with the pattern's label. The first group of patterns shows
on two or more signals (bar a few "quiet" frauds that look exactly like porch theft: the honest
ceiling of any detector), and every signal has a benign look-alike that shows on that signal alone.
Real marketplaces also see fraud that shows on one strong signal alone, and honest customers who
look like exactly that, so a second group (below the first in the table) plants both:

| fraud pattern (label) | shows on                                       | benign look-alike (label)        |
|-----------------------|------------------------------------------------|----------------------------------|
| drop-address-ring     | address (list / reuse), customer, tracking, text | shared-office, fraud-neighbour |
| return-fraud          | return distance, text or chargebacks           | moved-away (return from new home) |
| serial-inr            | tracking history, customer claims, chargebacks | loyal-frequent-claimer, porch-theft |
| stolen-card           | payment (declines, foreign card), customer     | traveller, new-customer-lost     |
| opportunist           | tracking, text (weak: some are missed)         | template-like-wording            |
| quiet-fraud           | tracking only: undetectable by design          | porch-theft                      |
| quiet-far-return      | return distance alone, ordinary message        | relocated-return, moved-away     |
| new-account-spree     | velocity on a young account alone              | sale-spree (old account)         |
| listed-address-first-claim | the known-fraud list alone, fresh account | fraud-neighbour                  |
| delivered-repeat-claimer | delivered-then-claimed, history from claim 2 | carrier-loss-claimer, porch-theft |
| (look-alikes only)    |                                                | expatriate, angry-honest         |

The README's fraud evaluation figures and the calibration file were fitted on this data, so the
random draws must stay in the order they are: inside a pattern (argument lists are evaluated left
to right, so a message is drawn before its opening time unless a pattern says otherwise) and
across patterns (`OPENING_PATTERNS`, then the order history, then `HISTORY_PATTERNS`, in order).
A change here changes every seeded row after it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from agentflows.seed.marketplace.text import ANGRY_HONEST_TEXT, FRAUD_PLAIN_TEXT, STREETS, TEMPLATE_LIKE_TEXT
from agentflows.seed.marketplace.world import NOW

if TYPE_CHECKING:
    from agentflows.seed.marketplace.builder import MarketBuilder

RING_SIZE = 12  # accounts shipping to one reshipping drop


class PlantedClaim(NamedTuple):
    """A claim as a pattern makes it; the builder adds the id, customer, amount and label."""

    order_id: int
    kind: str
    message: str
    opened_at: datetime


Plant = Callable[["MarketBuilder", int], Iterator[PlantedClaim]]


@dataclass(frozen=True)
class Pattern:
    """One entry of the recipe: which generator runs, how often, and how its claims are labelled."""

    label: str  # claim_labels.pattern
    fraud: bool
    count: int  # how many times the pattern is planted (customers, or rings for drop-address-ring)
    plant: Plant
    accounts_each: int = 0  # new accounts one plant opens (not drawn from the ordinary customers)

    @property
    def new_accounts(self) -> int:
        return self.count * self.accounts_each


# --- fraud ------------------------------------------------------------------------------------


def drop_address_rings(b: MarketBuilder, n: int) -> Iterator[PlantedClaim]:
    """Reshipping drops: new accounts under different names ship there, then claim not received."""
    for ring in range(n):
        city = b.rng.choice(b.cities)
        street, number, flat = b.rng.choice(STREETS), b.rng.randint(1, 200), b.rng.randint(1, 30)
        postcode = b.postcode(city)
        variants = [
            f"{number} {street} Street, Apt {flat}",
            f"{number} {street} St., Flat {flat}",
            f"Apt {flat}, {number} {street} Street",
            f"{number} {street} Str #{flat}",
        ]
        if ring == 0:  # listed with a typo: only the fuzzy match finds it
            b.list_fraud_address(f"{number} {street[:-1]} Street, Flat {flat}", postcode, city, "police report")
        elif ring == 1:
            b.list_fraud_address(variants[1], postcode, city, "carrier report")
        start = NOW - timedelta(days=b.rng.uniform(120, 400))
        for _member in range(RING_SIZE):
            signup = start + timedelta(days=b.rng.uniform(0, 90))
            cid = b.new_account(signup, b.rng.choice(b.cities))
            drop = b.address(cid, city, signup, b.rng.choice(variants), postcode)
            placed = signup + timedelta(days=b.rng.uniform(1, 12))
            oid = b.order(cid, placed, float(b.rng.uniform(150, 900)), drop)
            templated = b.rng.random() < 0.7
            text = (
                b.fraud_text(("never-arrived-urgent", "reshipper-drop", "threat-chargeback"), oid)
                if templated
                else b.rng.choice(FRAUD_PLAIN_TEXT)
            )
            yield PlantedClaim(oid, "not_received", text, b.after_delivery(oid, 1, 5))


def stolen_cards(b: MarketBuilder, n: int) -> Iterator[PlantedClaim]:
    """Card testing, then a big first order on a foreign card, then a claim to get the money out."""
    for _ in range(n):
        city = b.rng.choice(b.cities)
        signup = NOW - timedelta(days=b.rng.uniform(20, 500))
        cid = b.new_account(signup, city)
        card = b.foreign_country(city.country)
        placed = signup + timedelta(days=b.rng.uniform(0.2, 6))
        for _ in range(b.rng.randint(2, 5)):
            b.incident(
                cid, None, "decline", placed - timedelta(hours=b.rng.uniform(1, 96)), b.rng.uniform(50, 900), card
            )
        address = b.home[cid] if b.rng.random() < 0.5 else b.address(cid, b.rng.choice(b.cities), placed)
        oid = b.order(cid, placed, float(b.rng.uniform(400, 1500)), address, card)
        kind = b.rng.choice(["not_received", "refund_request"])
        text = (
            b.fraud_text(("threat-chargeback", "reshipper-drop", "never-arrived-urgent"), oid)
            if b.rng.random() < 0.5
            else b.rng.choice(FRAUD_PLAIN_TEXT)
        )
        yield PlantedClaim(oid, kind, text, b.after_delivery(oid, 1, 7))


def serial_inr(b: MarketBuilder, n: int) -> Iterator[PlantedClaim]:
    """Established customers whose parcels keep 'going missing': lost scans, chargebacks, repeated claims."""
    for cid in b.pick(b.customers_with_orders(6, 500), n):
        first = NOW - timedelta(days=b.rng.uniform(330, 420))
        for _ in range(2):
            b.recent_order(cid, days=(430, 600), fate=b.rng.choice(["lost", "lost-twice"]))
        b.incident(cid, None, "chargeback", first - timedelta(days=b.rng.uniform(10, 60)), b.rng.uniform(80, 400))
        for i in range(3):
            placed = first + timedelta(days=110 * i + b.rng.uniform(0, 20))
            oid = b.order(cid, placed, float(b.rng.uniform(80, 400)), b.home[cid])
            text = (
                b.fraud_text(("never-arrived-urgent", "threat-chargeback"), oid)
                if b.rng.random() < 0.5
                else b.benign_text("not_received")
            )
            yield PlantedClaim(oid, "not_received", text, b.after_delivery(oid, 1, 6))


def return_fraud(b: MarketBuilder, n: int) -> Iterator[PlantedClaim]:
    """Empty box / swapped item: the 'return' is handed in far from anywhere the customer lives."""
    for cid in b.pick(b.customers_with_orders(2, 365), n):
        home_city = b.city_of[b.home[cid]]
        oid = b.recent_order(cid, amount=float(b.rng.uniform(150, 700)), days=(30, 500))
        far = b.address(cid, b.far_city(home_city, 900), b.delivered_at(oid))
        returned = b.delivered_at(oid) + timedelta(days=b.rng.uniform(2, 8))
        b.return_from(oid, far, returned)
        templated = b.rng.random() < 0.7
        if not templated or b.rng.random() < 0.3:
            chargeback_at = returned - timedelta(days=b.rng.uniform(20, 200))
            b.incident(cid, None, "chargeback", chargeback_at, b.rng.uniform(50, 400))
        kind = b.rng.choice(["arrived_broken", "refund_request"])
        text = (
            b.fraud_text(("empty-box", "wrong-item-swap", "damaged-no-photos"), oid)
            if templated
            else b.benign_text(kind)
        )
        yield PlantedClaim(oid, kind, text, returned + timedelta(days=b.rng.uniform(1, 4)))


def opportunists(b: MarketBuilder, n: int) -> Iterator[PlantedClaim]:
    """A one-off false claim by an established customer in copied wording: the hard cases."""
    for cid in b.pick(b.customers_with_orders(3, 365), n):
        oid = b.recent_order(cid, amount=float(b.rng.uniform(100, 400)), days=(20, 300))
        text = b.fraud_text(("never-arrived-urgent", "threat-chargeback"), oid)
        yield PlantedClaim(oid, "not_received", text, b.after_delivery(oid, 1, 4))


def quiet_fraud(b: MarketBuilder, n: int) -> Iterator[PlantedClaim]:
    """False claims that look exactly like porch theft: no signal can catch them (the honest ceiling)."""
    for cid in b.pick(b.customers_with_orders(3, 365), n):
        oid = b.recent_order(cid, days=(20, 500))
        opened = b.after_delivery(oid, 1, 4)  # drawn before the message, unlike the other patterns
        yield PlantedClaim(oid, "not_received", b.benign_text("not_received"), opened)


# --- benign look-alikes -------------------------------------------------------------------------


def new_customers_lost(b: MarketBuilder, n: int) -> Iterator[PlantedClaim]:
    """Genuine new customers whose first parcel the carrier lost: new account, but a carrier failure."""
    for _ in range(n):
        city = b.rng.choice(b.cities)
        signup = NOW - timedelta(days=b.rng.uniform(20, 500))
        cid = b.new_account(signup, city)
        placed = signup + timedelta(days=b.rng.uniform(1, 10))
        oid = b.order(cid, placed, float(np.exp(b.np.normal(4.2, 0.7))), b.home[cid], fate="lost")
        yield PlantedClaim(oid, "not_received", b.benign_text("not_received"), b.after_delivery(oid, 1, 6))


def moved_away(b: MarketBuilder, n: int) -> Iterator[PlantedClaim]:
    """Customers who moved far away: the return comes from the new home (registered or not yet)."""
    for cid in b.pick(b.customers_with_orders(3, 365), n):
        old = b.city_of[b.home[cid]]
        moved = NOW - timedelta(days=b.rng.uniform(40, 300))
        oid = b.order(cid, moved - timedelta(days=b.rng.uniform(8, 20)), float(b.rng.uniform(40, 300)), b.home[cid])
        new_home = b.address(cid, b.far_city(old, 500), moved)
        if b.rng.random() < 0.7:  # registered the move and ordered there since
            b.move_home(cid, new_home)
            b.order(cid, moved + timedelta(days=b.rng.uniform(1, 10)), float(b.rng.uniform(20, 200)), new_home)
        returned = moved + timedelta(days=b.rng.uniform(12, 25))
        b.return_from(oid, new_home, returned)
        kind = b.rng.choice(["refund_request", "arrived_broken"])
        yield PlantedClaim(oid, kind, b.benign_text(kind), returned + timedelta(days=b.rng.uniform(1, 4)))


def shared_offices(b: MarketBuilder, n: int) -> Iterator[PlantedClaim]:
    """A few colleagues (different surnames) ship to their office; some of them claim."""
    pool = b.customers_with_orders(1, 200)
    for _ in range(n):
        city = b.rng.choice(b.cities)
        colleagues = [c for c in pool if b.m.customers[c - 1]["country"] == city.country]
        line1 = f"{b.rng.randint(1, 99)} {b.rng.choice(STREETS)} Place, Floor {b.rng.randint(2, 9)}"
        postcode = b.postcode(city)
        for cid in b.pick(colleagues, 3):
            office = b.address(cid, city, NOW - timedelta(days=400), line1, postcode)
            oid = b.recent_order(cid, address=office, days=(20, 350))
            if b.rng.random() < 0.85:
                kind = b.rng.choice(["not_received", "arrived_broken"])
                yield PlantedClaim(oid, kind, b.benign_text(kind), b.after_delivery(oid, 1, 8))


def households(b: MarketBuilder, n: int) -> Iterator[PlantedClaim]:
    """Claims by people who share their home with relatives (same surname): reuse, but related."""
    norm_count: dict[str, int] = {}
    for cid in b.ordinary:
        key = b.home_address(cid)["normalized"]
        norm_count[key] = norm_count.get(key, 0) + 1
    pool = [c for c in b.customers_with_orders(1, 200) if norm_count[b.home_address(c)["normalized"]] > 1]
    for cid in b.pick(pool, min(n, len(pool))):
        oid = b.recent_order(cid, days=(20, 500))
        kind = b.rng.choice(["not_received", "arrived_broken", "refund_request"])
        yield PlantedClaim(oid, kind, b.benign_text(kind), b.after_delivery(oid, 1, 8))


def fraud_neighbours(b: MarketBuilder, n: int) -> Iterator[PlantedClaim]:
    """Honest customers living on the same street as a known fraud address, other door."""
    for cid in b.pick(b.customers_with_orders(1, 200), n):
        home = b.home_address(cid)
        number = int(re.match(r"\d+", home["line1"])[0])  # type: ignore[index]
        line1 = re.sub(r"^\d+", str(number + b.rng.choice([2, 4, 6, 10])), home["line1"])
        b.list_fraud_address(line1, home["postcode"], b.city_of[b.home[cid]], "neighbourhood report")
        oid = b.recent_order(cid, days=(20, 500))
        kind = b.rng.choice(["not_received", "arrived_broken"])
        yield PlantedClaim(oid, kind, b.benign_text(kind), b.after_delivery(oid, 1, 8))


def travellers(b: MarketBuilder, n: int) -> Iterator[PlantedClaim]:
    """Customers paying with a foreign card (travel, expats, gifts), sometimes after one decline."""
    for cid in b.pick(b.customers_with_orders(2, 200), n):
        card = b.foreign_country(b.m.customers[cid - 1]["country"])
        oid = b.recent_order(cid, card=card, days=(20, 500))
        if b.rng.random() < 0.6:
            placed = b.m.orders[oid - 1]["placed_at"]
            b.incident(
                cid, None, "decline", placed - timedelta(days=b.rng.uniform(0.1, 20)), b.rng.uniform(20, 300), card
            )
        kind = b.rng.choice(["not_received", "arrived_broken", "refund_request"])
        yield PlantedClaim(oid, kind, b.benign_text(kind), b.after_delivery(oid, 1, 10))


def template_like(b: MarketBuilder, n: int) -> Iterator[PlantedClaim]:
    """Honest complaints that happen to use the words fraudsters use."""
    for cid in b.pick(b.customers_with_orders(2, 200), n):
        oid = b.recent_order(cid, days=(20, 500))
        text = b.rng.choice(TEMPLATE_LIKE_TEXT)
        kind = "arrived_broken" if "broken" in text else "not_received"
        yield PlantedClaim(oid, kind, text, b.after_delivery(oid, 1, 8))


def porch_theft(b: MarketBuilder, n: int) -> Iterator[PlantedClaim]:
    """Delivered, then stolen from the doorstep: delivered-then-claimed by an established customer."""
    for cid in b.pick(b.customers_with_orders(3, 300), n):
        oid = b.recent_order(cid, days=(20, 500))
        yield PlantedClaim(oid, "not_received", b.benign_text("not_received"), b.after_delivery(oid, 0.5, 4))


def loyal_claimers(b: MarketBuilder, n: int) -> Iterator[PlantedClaim]:
    """Big spenders who claim a few times a year (breakages, returns): frequent, not fraudulent."""
    for cid in b.pick(b.customers_with_orders(15, 700), n):
        start = NOW - timedelta(days=b.rng.uniform(300, 360))
        for i in range(3):
            placed = start + timedelta(days=95 * i + b.rng.uniform(0, 15))
            oid = b.order(cid, placed, float(b.rng.uniform(60, 400)), b.home[cid])
            kind = b.rng.choice(["arrived_broken", "refund_request"])
            yield PlantedClaim(oid, kind, b.benign_text(kind), b.after_delivery(oid, 1, 10))


def plain_claims(b: MarketBuilder, n: int) -> Iterator[PlantedClaim]:
    """Everyday claims on ordinary orders: lost parcels, breakages, refunds (one per customer)."""
    cutoff = NOW - timedelta(days=720)
    candidates = [
        o["id"]
        for o in b.m.orders
        if o["placed_at"] > cutoff and o["customer_id"] not in b.special and o["id"] not in b.claimed_orders
    ]
    lost = {e["order_id"] for e in b.m.events if e["kind"] == "lost"}
    b.rng.shuffle(candidates)
    picked: list[int] = []
    claimants: set[int] = set()
    for oid in candidates:  # one everyday claim per customer; repeat claimers are planted on purpose
        customer = b.m.orders[oid - 1]["customer_id"]
        if customer not in claimants:
            claimants.add(customer)
            picked.append(oid)
        if len(picked) == n:
            break
    for oid in picked:
        if oid in lost:
            kind = "not_received"
        else:
            kind = b.rng.choices(["not_received", "arrived_broken", "refund_request"], [0.25, 0.45, 0.30])[0]
        yield PlantedClaim(oid, kind, b.benign_text(kind), b.after_delivery(oid, 1, 12))


# --- one strong signal alone: frauds and look-alikes that real marketplaces see -----------------
# Real fraud does not always show on two signals, and honest customers do not always show on one:
# these patterns each lean on a single strong signal, so a calibration fitted here cannot wait for
# a second sign before it flags, and still has to keep the honest look-alike of that sign cleared.


def quiet_far_returns(b: MarketBuilder, n: int) -> Iterator[PlantedClaim]:
    """Return fraud with an ordinary message and a clean record: only the return's distance shows."""
    for cid in b.pick(b.customers_with_orders(2, 300), n):
        home_city = b.city_of[b.home[cid]]
        oid = b.recent_order(cid, amount=float(b.rng.uniform(90, 600)), days=(25, 400))
        returned = b.delivered_at(oid) + timedelta(days=b.rng.uniform(1, 10))
        far = b.address(cid, b.far_city(home_city, 1100), returned)
        b.return_from(oid, far, returned)
        kind = b.rng.choice(["refund_request", "arrived_broken"])
        yield PlantedClaim(oid, kind, b.benign_text(kind), returned + timedelta(days=b.rng.uniform(1, 5)))


def new_account_sprees(b: MarketBuilder, n: int) -> Iterator[PlantedClaim]:
    """A fresh account buys several expensive things within days on a home card, then claims one."""
    for _ in range(n):
        city = b.rng.choice(b.cities)
        signup = NOW - timedelta(days=b.rng.uniform(15, 450))
        cid = b.new_account(signup, city)
        start = signup + timedelta(hours=b.rng.uniform(2, 72))
        orders = [
            b.order(cid, start + timedelta(days=b.rng.uniform(0, 4)), float(b.rng.uniform(300, 1200)), b.home[cid])
            for _ in range(b.rng.randint(4, 7))
        ]
        oid = b.rng.choice(orders)
        kind = b.rng.choice(["refund_request", "not_received", "refund_request"])
        yield PlantedClaim(oid, kind, b.benign_text(kind), b.after_delivery(oid, 1, 6))


def listed_address_first_claims(b: MarketBuilder, n: int) -> Iterator[PlantedClaim]:
    """A fresh account ships to a door the chargeback team listed and claims at once: the address alone."""
    listed = [f for f in b.m.fraud_addresses if f["source"] == "chargeback team"]
    by_name = {(c.name, c.country): c for c in b.cities}
    for _ in range(n):
        row = b.rng.choice(listed)
        city = by_name[(row["city"], row["country"])]
        signup = NOW - timedelta(days=b.rng.uniform(10, 400))
        cid = b.new_account(signup, b.rng.choice(b.cities))
        line1 = row["line1"] if b.rng.random() < 0.6 else row["line1"].upper().replace(" STREET", " ST")
        drop = b.address(cid, city, signup, line1, row["postcode"])
        oid = b.order(cid, signup + timedelta(days=b.rng.uniform(0.5, 9)), float(b.rng.uniform(80, 700)), drop)
        yield PlantedClaim(oid, "not_received", b.benign_text("not_received"), b.after_delivery(oid, 1, 5))


def delivered_repeat_claimers(b: MarketBuilder, n: int) -> Iterator[PlantedClaim]:
    """Established customers claiming parcels scanned delivered, again and again, in plain words."""
    for cid in b.pick(b.customers_with_orders(3, 500), n):
        first = NOW - timedelta(days=b.rng.uniform(250, 400))
        for i in range(3):
            placed = first + timedelta(days=75 * i + b.rng.uniform(0, 25))
            oid = b.order(cid, placed, float(b.rng.uniform(60, 350)), b.home[cid])
            text = b.rng.choice(FRAUD_PLAIN_TEXT) if b.rng.random() < 0.5 else b.benign_text("not_received")
            yield PlantedClaim(oid, "not_received", text, b.after_delivery(oid, 0.5, 5))


def expatriates(b: MarketBuilder, n: int) -> Iterator[PlantedClaim]:
    """Live abroad, pay with the card of home, and the carrier loses a parcel: honest."""
    for cid in b.pick(b.customers_with_orders(2, 400), n):
        country = b.m.customers[cid - 1]["country"]
        abroad = b.rng.choice([c for c in b.cities if c.country != country])
        settled = NOW - timedelta(days=b.rng.uniform(150, 600))
        b.move_home(cid, b.address(cid, abroad, settled))
        for _ in range(b.rng.randint(1, 3)):
            b.order(cid, b.when(settled, NOW - timedelta(days=30)), float(b.rng.uniform(20, 250)), b.home[cid])
        oid = b.recent_order(cid, days=(15, 140), fate=b.rng.choice(["lost", "lost", "delivered"]))
        kind = "not_received" if b.rng.random() < 0.8 else "arrived_broken"
        yield PlantedClaim(oid, kind, b.benign_text(kind), b.after_delivery(oid, 1, 8))


def relocated_returns(b: MarketBuilder, n: int) -> Iterator[PlantedClaim]:
    """Moved within the country without updating the profile: the return comes from where they now live."""
    for cid in b.pick(b.customers_with_orders(3, 365), n):
        old = b.city_of[b.home[cid]]
        same = [c for c in b.cities if c.country == old.country and c != old] or b.cities
        moved = NOW - timedelta(days=b.rng.uniform(40, 300))
        oid = b.order(cid, moved - timedelta(days=b.rng.uniform(5, 15)), float(b.rng.uniform(30, 350)), b.home[cid])
        new_home = b.address(cid, b.rng.choice(same), moved)
        b.order(cid, moved + timedelta(days=b.rng.uniform(1, 8)), float(b.rng.uniform(20, 200)), new_home)
        returned = moved + timedelta(days=b.rng.uniform(10, 20))
        b.return_from(oid, new_home, returned)
        kind = b.rng.choice(["refund_request", "arrived_broken"])
        yield PlantedClaim(oid, kind, b.benign_text(kind), returned + timedelta(days=b.rng.uniform(1, 4)))


def carrier_loss_claimers(b: MarketBuilder, n: int) -> Iterator[PlantedClaim]:
    """Unlucky honest customers: several claims in two years, each on a parcel the carrier scanned lost."""
    for cid in b.pick(b.customers_with_orders(4, 700), n):
        start = NOW - timedelta(days=b.rng.uniform(500, 700))
        for i in range(b.rng.randint(2, 4)):
            placed = start + timedelta(days=150 * i + b.rng.uniform(0, 40))
            oid = b.order(cid, placed, float(b.rng.uniform(30, 300)), b.home[cid], fate="lost")
            yield PlantedClaim(oid, "not_received", b.benign_text("not_received"), b.after_delivery(oid, 1, 6))


def angry_honest(b: MarketBuilder, n: int) -> Iterator[PlantedClaim]:
    """Honest customers who write in anger: loud words, an ordinary record."""
    for cid in b.pick(b.customers_with_orders(2, 200), n):
        oid = b.recent_order(cid, days=(20, 500), fate=b.rng.choice(["delivered", "exception"]))
        message = b.rng.choice(ANGRY_HONEST_TEXT)
        kind = "arrived_broken" if ("pieces" in message or "ruined" in message) else "not_received"
        yield PlantedClaim(oid, kind, message, b.after_delivery(oid, 1, 8))


def sale_sprees(b: MarketBuilder, n: int) -> Iterator[PlantedClaim]:
    """An old account buys several expensive things in a sale week and one arrives broken."""
    for cid in b.pick(b.customers_with_orders(4, 800), n):
        start = NOW - timedelta(days=b.rng.uniform(30, 400))
        orders = [
            b.order(cid, start + timedelta(days=b.rng.uniform(0, 4)), float(b.rng.uniform(200, 900)), b.home[cid])
            for _ in range(b.rng.randint(3, 5))
        ]
        oid = b.rng.choice(orders)
        kind = b.rng.choice(["arrived_broken", "refund_request"])
        yield PlantedClaim(oid, kind, b.benign_text(kind), b.after_delivery(oid, 1, 8))


# --- the recipe, in the order it runs ---------------------------------------------------------

OPENING_PATTERNS: tuple[Pattern, ...] = (
    # Open their own accounts, planted before the ordinary order history is spread.
    Pattern("drop-address-ring", True, 3, drop_address_rings, accounts_each=RING_SIZE),
    Pattern("stolen-card", True, 40, stolen_cards, accounts_each=1),
    Pattern("benign:new-customer-lost", False, 60, new_customers_lost, accounts_each=1),
    Pattern("new-account-spree", True, 22, new_account_sprees, accounts_each=1),
    Pattern("listed-address-first-claim", True, 12, listed_address_first_claims, accounts_each=1),
)
HISTORY_PATTERNS: tuple[Pattern, ...] = (
    # Pick established customers, so they run after the order history exists.
    Pattern("serial-inr", True, 12, serial_inr),
    Pattern("return-fraud", True, 30, return_fraud),
    Pattern("opportunist", True, 8, opportunists),
    Pattern("quiet-fraud", True, 6, quiet_fraud),
    Pattern("benign:moved-away", False, 60, moved_away),
    Pattern("benign:shared-office", False, 6, shared_offices),
    Pattern("benign:household", False, 25, households),
    Pattern("benign:fraud-neighbour", False, 25, fraud_neighbours),
    Pattern("benign:traveller", False, 50, travellers),
    Pattern("benign:template-like-wording", False, 80, template_like),
    Pattern("benign:porch-theft", False, 100, porch_theft),
    Pattern("benign:loyal-frequent-claimer", False, 14, loyal_claimers),
    Pattern("quiet-far-return", True, 22, quiet_far_returns),
    Pattern("delivered-repeat-claimer", True, 6, delivered_repeat_claimers),
    Pattern("benign:expatriate", False, 30, expatriates),
    Pattern("benign:relocated-return", False, 40, relocated_returns),
    Pattern("benign:carrier-loss-claimer", False, 20, carrier_loss_claimers),
    Pattern("benign:angry-honest", False, 50, angry_honest),
    Pattern("benign:sale-spree", False, 30, sale_sprees),
)
# The rest of the claims up to the builder's total; its count is set when it runs.
PLAIN_CLAIMS = Pattern("benign", False, 0, plain_claims)
PATTERNS: tuple[Pattern, ...] = (*OPENING_PATTERNS, *HISTORY_PATTERNS, PLAIN_CLAIMS)
