"""Benchmark: the fraud check with the SHIPPED calibration on a marketplace it was never fitted on.

    .venv/bin/python benchmarks/fraud_other_marketplace.py [--seed 7] [--labels-out labels.csv]

Builds a second marketplace with its own fraud patterns, honest look-alikes and wording (none of
the seed's message tables), into a temporary SQLite database: claims carry external ids
(`OM-00001`, ...) and the labels are written as a CSV, the way a team would bring its own. Then it
scores every claim with `agentflows eval fraud --labels` semantics (split `all`: the shipped
calibration never saw any of it) and prints the figures, the flag rate per pattern and the
ablation. The patterns, unlike the seed's:

| fraud (label)            | how it looks                                                              |
|--------------------------|---------------------------------------------------------------------------|
| ring-variants            | new accounts at a drop written many ways (St/Street, flat, accent, typo)  |
| burst-new-account        | a new account places 3-6 high-value orders within days on a home-country card, claims one |
| far-return-plain         | return handed in far from every address of the customer, honest-looking message |
| serial-delivered-claimer | repeated not-received claims on parcels scanned delivered, terse angry text |
| card-testing             | declines, then a foreign card, then a claim                              |
| paraphrased-template     | established customer, a template example heavily reworded                |

| honest look-alike (label)     | what could fool the check                                           |
|-------------------------------|---------------------------------------------------------------------|
| benign:expat                  | lives abroad, pays with the home-country card, parcel lost by the carrier |
| benign:mover                  | moved, returns from the new home elsewhere in the home country      |
| benign:frequent-carrier-loss  | several claims in two years, all on parcels the carrier scanned lost |
| benign:angry                  | furious wording that shares template phrases                        |
| benign:sale-burst             | an old account buys several expensive things in a sale week         |
| benign:household-variants     | relatives write the shared address in different ways               |
| benign:variant-neighbour      | next door to a listed fraud address, written in a variant          |
| benign:new-porch-theft        | a new customer's delivered parcel stolen from the doorstep          |
| benign                        | everyday claims in this shop's own words                            |
"""

from __future__ import annotations

import argparse
import csv
import os
import re
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from agentflows.seed.marketplace.builder import MarketBuilder, insert_market
from agentflows.seed.marketplace.patterns import PlantedClaim
from agentflows.seed.marketplace.world import NOW

OPEN = ("Hey,", "Dear team,", "To whom it may concern,", "Hiya,", "Good afternoon,", "")
HONEST = {
    "not_received": (
        "my delivery never turned up",
        "I have not got my order",
        "the box is nowhere to be found",
        "there is no sign of the package",
        "the tracking page stopped updating a week ago",
        "I waited in all Tuesday and no van came",
    ),
    "arrived_broken": (
        "the mirror came in pieces",
        "the kettle leaks from the bottom",
        "two plates were chipped",
        "the chair leg is bent",
        "the phone case has a crack on one corner",
    ),
    "refund_request": (
        "the trainers rub my heel",
        "I found it cheaper elsewhere and would like to send it back",
        "the fabric feels nothing like the description",
        "my partner already bought the same thing",
    ),
}
CONTEXT = (
    "My reference is on the invoice.",
    "I have been shopping with you for a while.",
    "I checked the shed and the bins too.",
    "I can send pictures if that helps.",
    "",
    "",
)
ASK = (
    "What are my options?",
    "Happy with whatever you suggest.",
    "Please sort it when you can.",
    "Cheers.",
    "Many thanks.",
)
ANGRY = (
    "This is the worst service ever. My parcel never arrived and I want a full refund immediately, no excuses.",
    "I am sick of this. The item arrived broken AGAIN. Refund me now or I will tell everyone about you.",
    "Nothing was delivered, your courier lied. I demand my money back today.",
    "Absolutely disgraceful. Box crushed, product smashed. I expect a refund right away.",
    "Still no parcel after three weeks. I will contact my bank if this is not fixed immediately.",
)
FRAUD_PLAIN = (
    "never got it. refund.",
    "Parcel not here, want money back",
    "didnt arrive pls refund asap",
    "box was empty. refund me",
    "where is my stuff?? refund now",
    "Order missing. I need the refund today.",
)
ACCENTED = {"Cedar": "Cédar", "Elm": "Élm", "Oak": "Oäk", "Pine": "Piñe", "Maple": "Mäple"}


class OtherMarketBuilder(MarketBuilder):
    """The seed's row primitives (same schema, same scans), driven by other patterns and other words."""

    def honest(self, kind: str) -> str:
        parts = [
            self.rng.choice(OPEN),
            self.rng.choice(HONEST[kind]).capitalize() + ".",
            self.rng.choice(CONTEXT),
            self.rng.choice(ASK),
        ]
        return " ".join(p for p in parts if p)

    def paraphrase(self, order_id: int) -> str:
        """A template example reworded harder than the seed's fraudsters do."""
        names = ("never-arrived-urgent", "threat-chargeback", "reshipper-drop", "empty-box")
        example = self.rng.choice(self.templates[self.rng.choice(names)].examples)
        sentences = re.split(r"(?<=[.!?])\s+", example)
        self.rng.shuffle(sentences)
        keep = sentences[: max(1, len(sentences) - self.rng.randint(0, 2))]
        text = " ".join(keep)
        text = re.sub(r"\b(the|my|a)\b ", lambda m: "" if self.rng.random() < 0.3 else m[0], text)
        return f"{text} ref {order_id}" if self.rng.random() < 0.5 else text

    def fraud_words(self, order_id: int, templated: float) -> str:
        return self.paraphrase(order_id) if self.rng.random() < templated else self.rng.choice(FRAUD_PLAIN)

    def variant(self, number: int, street: str, flat: int) -> str:
        """One way of writing `number street Street, flat` (abbreviation, flat or not, accent, case, typo)."""
        suffix = self.rng.choice(["Street", "St", "St.", "street", "STREET", "Str"])
        name = ACCENTED.get(street, street) if self.rng.random() < 0.3 else street
        if self.rng.random() < 0.2 and len(name) > 4:  # a small typo
            i = self.rng.randrange(1, len(name) - 1)
            name = name[:i] + name[i + 1] + name[i] + name[i + 2 :]
        line = f"{number} {name} {suffix}"
        roll = self.rng.random()
        if roll < 0.35:
            line += f", Flat {flat}"
        elif roll < 0.55:
            line = f"Apt {flat}, {line}"
        elif roll < 0.65:
            line += f" #{flat}"
        return line.upper() if self.rng.random() < 0.1 else line

    # --- fraud --------------------------------------------------------------------------------

    def ring_variants(self, rings: int, size: int) -> Iterator[PlantedClaim]:
        for ring in range(rings):
            city = self.rng.choice(self.cities)
            street, number, flat = self.rng.choice(list(ACCENTED)), self.rng.randint(1, 150), self.rng.randint(1, 20)
            postcode = self.postcode(city)
            if ring % 3 != 2:  # two rings in three are on the list, written one way
                self.list_fraud_address(f"{number} {street} Street", postcode, city, "partner report")
            start = NOW - timedelta(days=self.rng.uniform(60, 300))
            for _ in range(size):
                signup = start + timedelta(days=self.rng.uniform(0, 60))
                cid = self.new_account(signup, self.rng.choice(self.cities))
                drop = self.address(cid, city, signup, self.variant(number, street, flat), postcode)
                oid = self.order(
                    cid, signup + timedelta(days=self.rng.uniform(0.5, 8)), self.rng.uniform(120, 700), drop
                )
                yield PlantedClaim(oid, "not_received", self.fraud_words(oid, 0.3), self.after_delivery(oid, 1, 5))

    def burst_new_accounts(self, n: int) -> Iterator[PlantedClaim]:
        for _ in range(n):
            city = self.rng.choice(self.cities)
            signup = NOW - timedelta(days=self.rng.uniform(30, 400))
            cid = self.new_account(signup, city)
            placed = signup + timedelta(days=self.rng.uniform(0.5, 15))
            orders = [
                self.order(
                    cid, placed + timedelta(hours=self.rng.uniform(0, 96)), self.rng.uniform(350, 1200), self.home[cid]
                )
                for _ in range(self.rng.randint(3, 6))
            ]
            oid = self.rng.choice(orders)
            kind = self.rng.choice(["not_received", "not_received", "refund_request"])
            text = self.fraud_words(oid, 0.3) if self.rng.random() < 0.6 else self.honest(kind)
            yield PlantedClaim(oid, kind, text, self.after_delivery(oid, 1, 6))

    def far_returns(self, n: int) -> Iterator[PlantedClaim]:
        for cid in self.pick(self.customers_with_orders(2, 300), n):
            oid = self.recent_order(cid, amount=self.rng.uniform(120, 600), days=(30, 400))
            home = self.city_of[self.home[cid]]
            far = self.address(cid, self.far_city(home, 700), self.delivered_at(oid))
            returned = self.delivered_at(oid) + timedelta(days=self.rng.uniform(2, 9))
            self.return_from(oid, far, returned)
            if self.rng.random() < 0.4:
                self.incident(cid, None, "chargeback", returned - timedelta(days=self.rng.uniform(30, 250)), 120)
            kind = self.rng.choice(["arrived_broken", "refund_request"])
            text = self.honest(kind) if self.rng.random() < 0.6 else self.fraud_words(oid, 0.5)
            yield PlantedClaim(oid, kind, text, returned + timedelta(days=self.rng.uniform(1, 4)))

    def serial_delivered(self, n: int) -> Iterator[PlantedClaim]:
        for cid in self.pick(self.customers_with_orders(5, 400), n):
            first = NOW - timedelta(days=self.rng.uniform(250, 330))
            if self.rng.random() < 0.5:
                self.incident(cid, None, "chargeback", first - timedelta(days=self.rng.uniform(10, 90)), 90)
            for i in range(self.rng.randint(3, 4)):
                placed = first + timedelta(days=75 * i + self.rng.uniform(0, 10))
                oid = self.order(cid, placed, self.rng.uniform(60, 350), self.home[cid])
                yield PlantedClaim(oid, "not_received", self.fraud_words(oid, 0.2), self.after_delivery(oid, 0.5, 4))

    def card_testing(self, n: int) -> Iterator[PlantedClaim]:
        for _ in range(n):
            city = self.rng.choice(self.cities)
            signup = NOW - timedelta(days=self.rng.uniform(20, 300))
            cid = self.new_account(signup, city)
            card = self.foreign_country(city.country)
            placed = signup + timedelta(days=self.rng.uniform(0.1, 20))
            for _ in range(self.rng.randint(1, 4)):
                at = placed - timedelta(hours=self.rng.uniform(1, 150))
                self.incident(cid, None, "decline", at, self.rng.uniform(40, 700), card)
            oid = self.order(cid, placed, self.rng.uniform(250, 1300), self.home[cid], card)
            kind = self.rng.choice(["not_received", "refund_request"])
            yield PlantedClaim(oid, kind, self.fraud_words(oid, 0.3), self.after_delivery(oid, 1, 7))

    def paraphrased(self, n: int) -> Iterator[PlantedClaim]:
        for cid in self.pick(self.customers_with_orders(3, 300), n):
            oid = self.recent_order(cid, amount=self.rng.uniform(90, 450), days=(20, 300))
            yield PlantedClaim(oid, "not_received", self.paraphrase(oid), self.after_delivery(oid, 1, 4))

    # --- honest look-alikes -------------------------------------------------------------------

    def expats(self, n: int) -> Iterator[PlantedClaim]:
        """Home-country card, delivery abroad (where they live now), parcel lost by the carrier."""
        for cid in self.pick(self.customers_with_orders(2, 300), n):
            country = self.m.customers[cid - 1]["country"]
            abroad = self.rng.choice([c for c in self.cities if c.country != country])
            moved = NOW - timedelta(days=self.rng.uniform(60, 400))
            flat = self.address(cid, abroad, moved)
            self.move_home(cid, flat)
            for _ in range(self.rng.randint(0, 2)):
                self.order(cid, self.when(moved, NOW - timedelta(days=20)), self.rng.uniform(20, 150), flat, country)
            fate = "lost" if self.rng.random() < 0.7 else "lost-twice"
            oid = self.order(
                cid, self.when(moved, NOW - timedelta(days=15)), self.rng.uniform(40, 400), flat, country, fate
            )
            yield PlantedClaim(oid, "not_received", self.honest("not_received"), self.after_delivery(oid, 1, 6))

    def movers(self, n: int) -> Iterator[PlantedClaim]:
        for cid in self.pick(self.customers_with_orders(3, 300), n):
            country = self.m.customers[cid - 1]["country"]
            old = self.city_of[self.home[cid]]
            same_country = [c for c in self.cities if c.country == country and c != old] or self.cities
            moved = NOW - timedelta(days=self.rng.uniform(30, 250))
            oid = self.order(
                cid, moved - timedelta(days=self.rng.uniform(5, 15)), self.rng.uniform(30, 300), self.home[cid]
            )
            new_home = self.address(cid, self.rng.choice(same_country), moved)
            if self.rng.random() < 0.5:
                self.move_home(cid, new_home)
            self.return_from(oid, new_home, moved + timedelta(days=self.rng.uniform(5, 20)))
            kind = self.rng.choice(["refund_request", "arrived_broken"])
            yield PlantedClaim(oid, kind, self.honest(kind), moved + timedelta(days=self.rng.uniform(21, 30)))

    def frequent_carrier_losses(self, n: int) -> Iterator[PlantedClaim]:
        for cid in self.pick(self.customers_with_orders(8, 700), n):
            start = NOW - timedelta(days=self.rng.uniform(500, 700))
            for i in range(self.rng.randint(3, 4)):
                placed = start + timedelta(days=140 * i + self.rng.uniform(0, 20))
                oid = self.order(cid, placed, self.rng.uniform(30, 250), self.home[cid], fate="lost")
                yield PlantedClaim(oid, "not_received", self.honest("not_received"), self.after_delivery(oid, 1, 6))

    def angry(self, n: int) -> Iterator[PlantedClaim]:
        for cid in self.pick(self.customers_with_orders(2, 200), n):
            text = self.rng.choice(ANGRY)
            fate = "lost" if "arrived" in text or "delivered" in text else "delivered"
            oid = self.recent_order(cid, days=(20, 400), fate=fate)
            kind = "arrived_broken" if "broken" in text or "smashed" in text else "not_received"
            yield PlantedClaim(oid, kind, text, self.after_delivery(oid, 1, 8))

    def sale_bursts(self, n: int) -> Iterator[PlantedClaim]:
        for cid in self.pick(self.customers_with_orders(6, 900), n):
            week = NOW - timedelta(days=self.rng.uniform(20, 200))
            orders = [
                self.order(
                    cid, week + timedelta(hours=self.rng.uniform(0, 120)), self.rng.uniform(300, 900), self.home[cid]
                )
                for _ in range(self.rng.randint(3, 5))
            ]
            oid = self.rng.choice(orders)
            kind = self.rng.choice(["arrived_broken", "refund_request"])
            yield PlantedClaim(oid, kind, self.honest(kind), self.after_delivery(oid, 1, 8))

    def household_variants(self, n: int) -> Iterator[PlantedClaim]:
        for cid in self.pick(self.customers_with_orders(2, 300), n):
            home = self.home_address(cid)
            city = self.city_of[self.home[cid]]
            last = self.m.customers[cid - 1]["last_name"]
            match = re.match(r"(\d+) (\w+)", home["line1"])
            number, street = (int(match[1]), match[2]) if match else (1, "Oak")
            for _ in range(2):
                mate = self.customer(NOW - timedelta(days=self.rng.uniform(200, 900)), city, last_name=last)
                self.special.add(mate)
                spot = self.address(
                    mate, city, NOW - timedelta(days=150), self.variant(number, street, 1), home["postcode"]
                )
                self.order(mate, NOW - timedelta(days=self.rng.uniform(30, 120)), self.rng.uniform(20, 120), spot)
            oid = self.recent_order(cid, days=(20, 300))
            kind = self.rng.choice(["not_received", "arrived_broken"])
            yield PlantedClaim(oid, kind, self.honest(kind), self.after_delivery(oid, 1, 8))

    def variant_neighbours(self, n: int) -> Iterator[PlantedClaim]:
        for cid in self.pick(self.customers_with_orders(1, 200), n):
            home = self.home_address(cid)
            match = re.match(r"(\d+) (\w+)", home["line1"])
            if match is None:
                continue
            number, street = int(match[1]), match[2]
            listed = f"{number + self.rng.choice([1, 2, 3, 8])} {street} St"
            self.list_fraud_address(listed, home["postcode"], self.city_of[self.home[cid]], "neighbourhood report")
            oid = self.recent_order(cid, days=(20, 400))
            kind = self.rng.choice(["not_received", "arrived_broken"])
            yield PlantedClaim(oid, kind, self.honest(kind), self.after_delivery(oid, 1, 8))

    def new_porch_theft(self, n: int) -> Iterator[PlantedClaim]:
        for _ in range(n):
            city = self.rng.choice(self.cities)
            signup = NOW - timedelta(days=self.rng.uniform(30, 300))
            cid = self.new_account(signup, city)
            oid = self.order(
                cid, signup + timedelta(days=self.rng.uniform(1, 20)), self.rng.uniform(30, 250), self.home[cid]
            )
            yield PlantedClaim(oid, "not_received", self.honest("not_received"), self.after_delivery(oid, 0.5, 3))

    def everyday(self, n: int) -> Iterator[PlantedClaim]:
        pool = [
            o["id"]
            for o in self.m.orders
            if o["customer_id"] not in self.special and o["id"] not in self.claimed_orders
        ]
        self.rng.shuffle(pool)
        lost = {e["order_id"] for e in self.m.events if e["kind"] == "lost"}
        seen: set[int] = set()
        for oid in pool:
            customer = self.m.orders[oid - 1]["customer_id"]
            if customer in seen or self.m.orders[oid - 1]["placed_at"] < NOW - timedelta(days=600):
                continue
            seen.add(customer)
            kind = (
                "not_received" if oid in lost else self.rng.choice(["not_received", "arrived_broken", "refund_request"])
            )
            yield PlantedClaim(oid, kind, self.honest(kind), self.after_delivery(oid, 1, 12))
            n -= 1
            if n == 0:
                return

    def build(self):  # type: ignore[no-untyped-def]
        self._ordinary(self.n_customers - 200)
        for _ in range(25):  # the chargeback team's list
            city = self.rng.choice(self.cities)
            self.list_fraud_address(self.street_line(), self.postcode(city), city, "chargeback team")
        plan: list[tuple[str, bool, Iterator[PlantedClaim]]] = [
            ("ring-variants", True, self.ring_variants(4, 9)),
            ("burst-new-account", True, self.burst_new_accounts(30)),
            ("card-testing", True, self.card_testing(20)),
            ("benign:new-porch-theft", False, self.new_porch_theft(25)),
        ]
        for label, fraud, claims in plan:
            for c in claims:
                self.claim(c.order_id, c.kind, c.message, c.opened_at, fraud, label)
        self._fill_orders()
        later: list[tuple[str, bool, Iterator[PlantedClaim]]] = [
            ("far-return-plain", True, self.far_returns(25)),
            ("serial-delivered-claimer", True, self.serial_delivered(8)),
            ("paraphrased-template", True, self.paraphrased(12)),
            ("benign:expat", False, self.expats(60)),
            ("benign:mover", False, self.movers(50)),
            ("benign:frequent-carrier-loss", False, self.frequent_carrier_losses(15)),
            ("benign:angry", False, self.angry(60)),
            ("benign:sale-burst", False, self.sale_bursts(30)),
            ("benign:household-variants", False, self.household_variants(20)),
            ("benign:variant-neighbour", False, self.variant_neighbours(20)),
        ]
        for label, fraud, claims in later:
            for c in claims:
                self.claim(c.order_id, c.kind, c.message, c.opened_at, fraud, label)
        for c in self.everyday(self.n_claims - len(self.m.claims)):
            self.claim(c.order_id, c.kind, c.message, c.opened_at, False, "benign")
        self._finish()
        for customer in self.m.customers:
            customer["email"] = customer["email"].replace("@shop.example", "@othershop.example")
        for claim in self.m.claims:
            claim["external_id"] = f"OM-{claim['id']:05d}"
        return self.m


def seed_other(
    seed: int, customers: int = 3000, orders: int = 25_000, claims: int = 1600
) -> list[tuple[str, bool, str]]:
    """Insert the other marketplace into the configured (empty) database; returns (external id, fraud, pattern)."""
    from agentflows.db import session_scope

    market = OtherMarketBuilder(seed, customers, orders, claims).build()
    with session_scope() as session:
        insert_market(session.connection(), market, labels=False)
    by_id = {c["id"]: c["external_id"] for c in market.claims}
    return [(by_id[label["claim_id"]], label["is_fraud"], label["pattern"]) for label in market.labels]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--labels-out", type=Path, default=None, help="where to write labels.csv (default: temp)")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="agentflows-other-"))
    os.environ["AGENTFLOWS_DATA_DIR"] = str(workdir)
    os.environ["AGENTFLOWS_DATABASE_URL"] = f"sqlite:///{workdir / 'other.db'}"
    os.environ.setdefault("AGENTFLOWS_MODEL", "offline")

    from agentflows.db.migrate import upgrade
    from tasks.fraud.evaluation import GOAL, evaluate_with_ablation
    from tasks.fraud.labels import read_labels

    upgrade()
    started = time.perf_counter()
    labels = seed_other(args.seed)
    path = args.labels_out or workdir / "labels.csv"
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["claim", "label", "pattern"])
        writer.writerows((ext, "fraud" if fraud else "legit", pattern) for ext, fraud, pattern in labels)
    print(
        f"other marketplace (seed {args.seed}): {len(labels)} claims, {sum(f for _, f, _ in labels)} fraud, "
        f"built in {time.perf_counter() - started:.1f}s; labels in {path}"
    )
    report, ablated = evaluate_with_ablation("all", labels=read_labels(path))
    for row in report.summary_rows():
        print(f"  {row['metric']:32s} {row['value']!s:>12}  {row['goal']}")
    print("  by pattern:")
    for row in report.by_pattern:
        print(f"    {row['pattern']:32s} {row['claims']:5d} claims, flag rate {row['flag rate']:.2f}")
    print("  ablation (without one signal):")
    for item in ablated:
        print("    " + ", ".join(f"{k} {v}" for k, v in item.row().items()))
    met = report.recall >= GOAL["recall"] and report.precision >= GOAL["precision"]
    print("goal met" if met and report.review_rate <= GOAL["review_rate"] else "goal NOT met")


if __name__ == "__main__":
    main()
