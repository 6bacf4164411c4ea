"""The builder: the row primitives, the recipe that runs the patterns, and the bulk insert.

`MarketBuilder` owns the two random generators (Python's for draws one at a time, NumPy's for
whole arrays) and every row list; the primitives here (`customer`, `address`, `order`, ...) are
the only way a pattern makes rows, so ids stay dense and each row costs the same draws wherever
it is made. `build()` is the recipe: ordinary customers, the known-fraud list, the patterns that
open their own accounts, the ordinary order history, the patterns that pick established customers,
then everyday claims up to the total. Everything derives from one seed; the draw order is what
the fraud evaluation was fitted on (see `patterns.py`). `seed_marketplace` inserts the result in
one transaction (nothing half-seeded), and a second run inserts nothing because seeded customers
are recognised by their email domain.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import numpy as np
from faker import Faker
from sqlalchemy import Connection, func, insert, select

from agentflows.addresses import normalize_address
from agentflows.db import session_scope
from agentflows.db.base import Base
from agentflows.db.fraud import (
    Address,
    Claim,
    ClaimLabel,
    Customer,
    KnownFraudAddress,
    Order,
    OrderReturn,
    PaymentIncident,
    ShipmentEvent,
)
from agentflows.fraud_templates import SHIPPED, load_templates
from agentflows.seed.marketplace import text
from agentflows.seed.marketplace.patterns import HISTORY_PATTERNS, OPENING_PATTERNS, PLAIN_CLAIMS, Pattern
from agentflows.seed.marketplace.text import STREETS, SUFFIXES
from agentflows.seed.marketplace.world import CARRIERS, COUNTRIES, EMAIL_DOMAIN, NOW, City, km, load_cities

SEED = 4_2026_11
KNOWN_FRAUD_ADDRESSES = 38  # listed by the chargeback team, besides those the patterns list


@dataclass
class Market:
    """Every row to insert, as plain dicts keyed by column name (ids assigned here)."""

    addresses: list[dict[str, Any]] = field(default_factory=list)
    customers: list[dict[str, Any]] = field(default_factory=list)
    orders: list[dict[str, Any]] = field(default_factory=list)
    returns: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    incidents: list[dict[str, Any]] = field(default_factory=list)
    claims: list[dict[str, Any]] = field(default_factory=list)
    labels: list[dict[str, Any]] = field(default_factory=list)
    fraud_addresses: list[dict[str, Any]] = field(default_factory=list)


class MarketBuilder:
    """Generates the marketplace row by row; `build()` runs the whole recipe."""

    def __init__(self, seed: int = SEED, customers: int = 5000, orders: int = 50_000, claims: int = 2400) -> None:
        self.n_customers, self.n_orders, self.n_claims = customers, orders, claims
        self.rng = random.Random(seed)
        self.np = np.random.default_rng(seed)
        self.fake = Faker(["en_US", "en_GB", "de_DE", "fr_FR"])
        self.fake.seed_instance(seed)
        self.cities = load_cities()
        self.m = Market()
        self.home: dict[int, int] = {}  # customer -> home address id
        self.city_of: dict[int, City] = {}  # address id -> city
        self.ordinary: list[int] = []  # customers not opened by a pattern (set by `_ordinary`)
        self.special: set[int] = set()  # customers planted in a pattern (not used for plain claims)
        self.claimed_orders: set[int] = set()
        self.last_scan: dict[int, datetime] = {}
        self.templates = {t.name: t for t in load_templates(SHIPPED).templates}

    # --- primitives -----------------------------------------------------------------------------

    def street_line(self) -> str:
        """A random `12 Oak Road` (no flat)."""
        return f"{self.rng.randint(1, 240)} {self.rng.choice(STREETS)} {self.rng.choice(SUFFIXES)}"

    def postcode(self, city: City) -> str:
        """A random postcode in the city's range."""
        return f"{city.postcode_base + self.rng.randint(0, 60):05d}"

    def address(
        self,
        customer_id: int | None,
        city: City,
        created_at: datetime,
        line1: str | None = None,
        postcode: str | None = None,
    ) -> int:
        if line1 is None:
            line1 = self.street_line()
            if self.rng.random() < 0.25:
                line1 += f", Apt {self.rng.randint(1, 40)}"
        postcode = postcode or self.postcode(city)
        jitter = 0.03
        aid = len(self.m.addresses) + 1
        self.m.addresses.append(
            {
                "id": aid,
                "customer_id": customer_id,
                "line1": line1,
                "city": city.name,
                "postcode": postcode,
                "country": city.country,
                "lat": round(city.lat + self.rng.gauss(0, jitter), 5),
                "lon": round(city.lon + self.rng.gauss(0, jitter), 5),
                "normalized": normalize_address(line1, postcode, city.country),
                "created_at": created_at,
            }
        )
        self.city_of[aid] = city
        return aid

    def home_address(self, customer_id: int) -> dict[str, Any]:
        """The row of the customer's current home address."""
        return self.m.addresses[self.home[customer_id] - 1]

    def move_home(self, customer_id: int, address_id: int) -> None:
        self.home[customer_id] = address_id
        self.m.customers[customer_id - 1]["home_address_id"] = address_id

    def customer(self, signup_at: datetime, city: City, last_name: str | None = None) -> int:
        cid = len(self.m.customers) + 1
        first = self.fake.first_name()
        last = last_name or self.fake.last_name()
        slug = re.sub(r"[^a-z]", "", f"{first}.{last}".lower())[:30]
        self.m.customers.append(
            {
                "id": cid,
                "email": f"{slug}.{cid}@{EMAIL_DOMAIN}",
                "first_name": first,
                "last_name": last,
                "country": city.country,
                "signup_at": signup_at,
                "lifetime_gmv": 0.0,
                "home_address_id": None,
            }
        )
        self.home[cid] = self.address(cid, city, signup_at)
        self.m.customers[-1]["home_address_id"] = self.home[cid]
        return cid

    def new_account(self, signup_at: datetime, city: City) -> int:
        """A customer opened by a pattern: kept out of the ordinary pool and the everyday claims."""
        cid = self.customer(signup_at, city)
        self.special.add(cid)
        return cid

    def order(
        self,
        customer_id: int,
        placed_at: datetime,
        amount: float,
        address_id: int,
        card_country: str | None = None,
        fate: str = "delivered",
    ) -> int:
        """One order with its scans. fate: delivered, lost (scanned lost, never delivered), lost-twice,
        exception (delayed, then delivered)."""
        oid = len(self.m.orders) + 1
        country = self.city_of[address_id].country
        carrier = CARRIERS.get(country, "DPD" if self.rng.random() < 0.5 else "UPS")
        card = card_country or self.m.customers[customer_id - 1]["country"]
        self.m.orders.append(
            {
                "id": oid,
                "customer_id": customer_id,
                "placed_at": placed_at,
                "amount": round(amount, 2),
                "items": self.rng.randint(1, 4),
                "delivery_address_id": address_id,
                "card_country": card,
                "carrier": carrier,
            }
        )
        self.m.customers[customer_id - 1]["lifetime_gmv"] += round(amount, 2)
        if card != self.m.customers[customer_id - 1]["country"]:  # a card from abroad is logged by the PSP
            self.incident(customer_id, oid, "card_mismatch", placed_at, amount, card)
        t = placed_at + timedelta(hours=self.rng.uniform(2, 30))
        city = self.city_of[address_id].name
        scans = [("shipped", t, ""), ("in_transit", t + timedelta(days=self.rng.uniform(0.5, 2)), "")]
        t = scans[-1][1]
        if fate.startswith("lost"):
            scans.append(("lost", t + timedelta(days=self.rng.uniform(4, 8)), ""))
            if fate == "lost-twice":
                scans.append(("lost", scans[-1][1] + timedelta(days=2), ""))
        else:
            if fate == "exception":
                t += timedelta(days=self.rng.uniform(1, 3))
                scans.append(("exception", t, city))
            scans.append(("out_for_delivery", t + timedelta(days=self.rng.uniform(0.5, 2)), city))
            scans.append(("delivered", scans[-1][1] + timedelta(hours=self.rng.uniform(1, 9)), city))
        self.last_scan[oid] = scans[-1][1]
        for kind, at, location in scans:
            self.m.events.append(
                {"order_id": oid, "carrier": carrier, "kind": kind, "occurred_at": at, "location": location}
            )
        return oid

    def delivered_at(self, order_id: int) -> datetime:
        """When the order's last scan happened (delivered or lost)."""
        return self.last_scan[order_id]

    def after_delivery(self, order_id: int, min_days: float, max_days: float) -> datetime:
        """A random time `min_days` to `max_days` after the order's last scan (when a claim opens)."""
        return self.delivered_at(order_id) + timedelta(days=self.rng.uniform(min_days, max_days))

    def incident(
        self,
        customer_id: int,
        order_id: int | None,
        kind: str,
        at: datetime,
        amount: float = 0.0,
        card_country: str = "",
    ) -> None:
        self.m.incidents.append(
            {
                "customer_id": customer_id,
                "order_id": order_id,
                "kind": kind,
                "occurred_at": at,
                "amount": round(amount, 2),
                "card_country": card_country,
            }
        )

    def return_from(self, order_id: int, address_id: int, created_at: datetime) -> None:
        self.m.returns.append({"order_id": order_id, "return_address_id": address_id, "created_at": created_at})

    def claim(self, order_id: int, kind: str, message: str, opened_at: datetime, fraud: bool, pattern: str) -> None:
        order = self.m.orders[order_id - 1]
        self.claimed_orders.add(order_id)
        self.m.claims.append(
            {
                "order_id": order_id,
                "customer_id": order["customer_id"],
                "kind": kind,
                "message": message,
                "amount_claimed": order["amount"],
                "opened_at": min(opened_at, NOW - timedelta(hours=1)),
                "_label": (fraud, pattern),
            }
        )

    def list_fraud_address(self, line1: str, postcode: str, city: City, source: str) -> None:
        """Add an address to the known-fraud list (once per match key)."""
        normalized = normalize_address(line1, postcode, city.country)
        if any(f["normalized"] == normalized for f in self.m.fraud_addresses):
            return
        self.m.fraud_addresses.append(
            {
                "line1": line1,
                "city": city.name,
                "postcode": postcode,
                "country": city.country,
                "normalized": normalized,
                "source": source,
                "added_at": NOW - timedelta(days=self.rng.uniform(30, 900)),
            }
        )

    # --- draws ------------------------------------------------------------------------------------

    def benign_text(self, kind: str) -> str:
        return text.benign_text(self.rng, kind)

    def fraud_text(self, names: tuple[str, ...], order_id: int) -> str:
        return text.fraud_text(self.rng, self.templates, names, order_id)

    def when(self, start: datetime, end: datetime) -> datetime:
        return start + (end - start) * self.rng.random()

    def far_city(self, origin: City, min_km: float) -> City:
        while True:
            city = self.rng.choice(self.cities)
            if km(origin, city) >= min_km:
                return city

    def foreign_country(self, country: str) -> str:
        """A random other country (a card from abroad)."""
        return self.rng.choice([c for c in COUNTRIES if c != country])

    def customers_with_orders(self, min_orders: int, min_age_days: int) -> list[int]:
        """Ordinary customers not yet planted, with at least `min_orders` orders and this old an account."""
        counts: dict[int, int] = {}
        for o in self.m.orders:
            counts[o["customer_id"]] = counts.get(o["customer_id"], 0) + 1
        cutoff = NOW - timedelta(days=min_age_days)
        return [
            c
            for c in self.ordinary
            if counts.get(c, 0) >= min_orders
            and self.m.customers[c - 1]["signup_at"] < cutoff
            and c not in self.special
        ]

    def pick(self, pool: list[int], n: int) -> list[int]:
        """`n` customers from the pool who are in no pattern yet; they are in one now."""
        chosen = self.rng.sample([c for c in pool if c not in self.special], n)
        self.special.update(chosen)
        return chosen

    def recent_order(
        self,
        cid: int,
        amount: float | None = None,
        days: tuple[int, int] = (20, 600),
        fate: str = "delivered",
        address: int | None = None,
        card: str | None = None,
    ) -> int:
        """An order placed `days` ago (home address, lognormal amount unless given), never before the account.

        A pattern may pick a customer who signed up after the drawn date; the order then moves to
        just after the signup (an order older than its account would read as a negative account age).
        """
        placed = NOW - timedelta(days=self.rng.uniform(*days))
        signup = self.m.customers[cid - 1]["signup_at"]
        placed = max(placed, signup + timedelta(hours=self.rng.uniform(2, 96)))
        amount = amount if amount is not None else float(np.exp(self.np.normal(3.9, 0.8)))
        return self.order(cid, placed, amount, address or self.home[cid], card, fate)

    # --- the recipe -------------------------------------------------------------------------------

    def build(self) -> Market:
        self._ordinary(self.n_customers - sum(p.new_accounts for p in OPENING_PATTERNS))
        self._known_fraud_addresses(KNOWN_FRAUD_ADDRESSES)
        for pattern in OPENING_PATTERNS:
            self.plant(pattern, pattern.count)
        self._fill_orders()
        for pattern in HISTORY_PATTERNS:
            self.plant(pattern, pattern.count)
        self.plant(PLAIN_CLAIMS, self.n_claims - len(self.m.claims))
        self._finish()
        return self.m

    def plant(self, pattern: Pattern, n: int) -> None:
        """Run one pattern and file its claims under its label."""
        for c in pattern.plant(self, n):
            self.claim(c.order_id, c.kind, c.message, c.opened_at, pattern.fraud, pattern.label)

    def _ordinary(self, n: int) -> None:
        weights = np.array([c.postcode_base % 7 + 3 for c in self.cities], dtype=float)
        picks = self.np.choice(len(self.cities), size=n, p=weights / weights.sum())
        for i in range(n):
            city = self.cities[int(picks[i])]
            signup = NOW - timedelta(days=self.rng.uniform(200, 5 * 365))
            if i > 0 and self.rng.random() < 0.06:  # a household: same surname, same address text
                mate = self.rng.randrange(1, len(self.m.customers) + 1)
                mate_row = self.m.customers[mate - 1]
                home = self.home_address(mate)
                cid = self.customer(signup, self.city_of[self.home[mate]], last_name=mate_row["last_name"])
                self.home_address(cid).update(
                    line1=home["line1"],
                    postcode=home["postcode"],
                    normalized=home["normalized"],
                    lat=home["lat"],
                    lon=home["lon"],
                )
                self.city_of[self.home[cid]] = self.city_of[self.home[mate]]
            else:
                self.customer(signup, city)
        self.ordinary = list(range(1, n + 1))

    def _known_fraud_addresses(self, n: int) -> None:
        for _ in range(n):
            city = self.rng.choice(self.cities)
            line1 = self.street_line()
            self.list_fraud_address(line1, self.postcode(city), city, "chargeback team")

    def _fill_orders(self) -> None:
        """Spread the remaining orders over ordinary customers, heavy-tailed like real shoppers."""
        remaining = self.n_orders - len(self.m.orders)  # the planted patterns add ~550 more on top
        weights = self.np.lognormal(0, 1.0, size=len(self.ordinary))
        counts = self.np.multinomial(remaining, weights / weights.sum())
        amounts = np.exp(self.np.normal(3.9, 0.8, size=remaining))
        k = 0
        for cid, count in zip(self.ordinary, counts, strict=True):
            signup = self.m.customers[cid - 1]["signup_at"]
            start = max(signup, NOW - timedelta(days=3 * 365))
            for _ in range(int(count)):
                placed = self.when(start, NOW - timedelta(days=3))
                roll = self.rng.random()
                address = self.home[cid]
                if roll < 0.10:  # a gift or a second home, mostly in the same country
                    country = self.m.customers[cid - 1]["country"] if roll < 0.08 else None
                    choices = [c for c in self.cities if country is None or c.country == country] or self.cities
                    address = self.address(cid, self.rng.choice(choices), placed)
                card = None
                if self.rng.random() < 0.012:
                    card = self.foreign_country(self.m.customers[cid - 1]["country"])
                fate = self.np.choice(["delivered", "lost", "exception"], p=[0.987, 0.008, 0.005])
                oid = self.order(cid, placed, float(amounts[k]), address, card, str(fate))
                k += 1
                if fate != "lost" and self.rng.random() < 0.06:
                    self.return_from(oid, address, self.delivered_at(oid) + timedelta(days=self.rng.uniform(3, 20)))
            r = self.rng.random()
            if r < 0.07:
                self.incident(cid, None, "decline", self.when(start, NOW), self.rng.uniform(20, 200))
            if r < 0.01:
                self.incident(cid, None, "decline", self.when(start, NOW), self.rng.uniform(20, 200))
            if self.rng.random() < 0.006:
                self.incident(
                    cid, None, "chargeback", self.when(NOW - timedelta(days=700), NOW), self.rng.uniform(20, 300)
                )

    def _finish(self) -> None:
        """Claim ids follow time, like a real ticketing system; labels follow their claims."""
        self.m.claims.sort(key=lambda c: c["opened_at"])
        for i, claim in enumerate(self.m.claims, start=1):
            claim["id"] = i
            fraud, pattern = claim.pop("_label")
            self.m.labels.append({"claim_id": i, "is_fraud": fraud, "pattern": pattern})
        for c in self.m.customers:
            c["lifetime_gmv"] = round(c["lifetime_gmv"], 2)


def build_marketplace(seed: int = SEED) -> Market:
    """The whole marketplace in memory, identical for a given seed."""
    return MarketBuilder(seed).build()


CHUNK = 5000


def insert_market(
    conn: Connection, market: Market, *, labels: bool = True, progress: Callable[[int, int], None] | None = None
) -> None:
    """Bulk-insert every table of `market` in foreign-key order, `CHUNK` rows per statement, on `conn` (the
    caller's transaction). `labels=False` leaves the ground truth out (a benchmark scores it on the side)."""
    tables: list[tuple[type[Base], list[dict[str, Any]]]] = [
        (Address, market.addresses),
        (Customer, market.customers),
        (Order, market.orders),
        (ShipmentEvent, market.events),
        (OrderReturn, market.returns),
        (PaymentIncident, market.incidents),
        (KnownFraudAddress, market.fraud_addresses),
        (Claim, market.claims),
    ] + ([(ClaimLabel, market.labels)] if labels else [])
    total, done = sum(len(rows) for _, rows in tables), 0
    for table, rows in tables:
        for start in range(0, len(rows), CHUNK):
            conn.execute(insert(table), rows[start : start + CHUNK])
            done += len(rows[start : start + CHUNK])
            if progress:
                progress(done, total)


def seed_marketplace(progress: Callable[[int, int], None] | None = None, seed: int = SEED) -> dict[str, int]:
    """Insert the marketplace unless it is there already; returns the table counts.

    Seeding runs in one transaction: an interrupted seed leaves nothing behind. The marketplace
    uses its own id ranges only on an empty marketplace; if seeded customers exist, nothing is added.
    """
    with session_scope() as session:
        seeded = session.scalar(select(func.count(Customer.id)).where(Customer.email.like(f"%@{EMAIL_DOMAIN}")))
    if not seeded:
        market = build_marketplace(seed)
        with session_scope() as session:
            conn = session.connection()
            if session.scalar(select(func.count(Customer.id))):
                raise RuntimeError(
                    "the marketplace tables already hold customers that were not seeded; "
                    "seed into a fresh database (the seeded ids would collide)"
                )
            insert_market(conn, market, progress=progress)
    with session_scope() as session:
        return {
            "customers": session.scalar(select(func.count(Customer.id))) or 0,
            "orders": session.scalar(select(func.count(Order.id))) or 0,
            "shipment events": session.scalar(select(func.count(ShipmentEvent.id))) or 0,
            "claims": session.scalar(select(func.count(Claim.id))) or 0,
            "fraud claims (labelled)": session.scalar(select(func.count()).where(ClaimLabel.is_fraud.is_(True))) or 0,
        }
