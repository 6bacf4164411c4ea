"""Address signal facts: is the delivery address a known fraud address, and who else ships there?

Addresses are compared by their key (`agentflows.addresses`: case, accents, punctuation,
`Street`/`St.`/`Str`, `Flat`/`Apt`/`#`), then fuzzily against the known-fraud list with rapidfuzz, so
a typo or a reordered or added flat number still matches. Because fuzzy scores barely move when
only the house number differs, the facts also say whether it is the same door (same house number
and postcode, compatible flat): the neighbour of a fraud address is not one. Reuse counts distinct
customers with deliveries to any variant of the same door, and how many of them have another
surname (a household shares an address; a reshipping drop does not).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from rapidfuzz import fuzz, process
from sqlalchemy import Connection, func, select

from agentflows.addresses import compact_postcode, normalize_address, same_door, street_part
from agentflows.db.fraud import Address, Customer, KnownFraudAddress, Order
from agents.fraud.models import SAME_DOOR_SIMILARITY, AddressFacts
from tasks.fraud.common import claims_frame, frame


def _postcode_sql(column: Any) -> Any:
    """The compact postcode in SQL (lower case, no spaces or dashes): where an address's variants are looked for."""
    return func.lower(func.replace(func.replace(column, " ", ""), "-", ""))


def compute_address(claim_ids: Sequence[int], conn: Connection) -> dict[int, AddressFacts]:
    """Address facts for a batch of claims: four queries and one fuzzy matrix for the whole batch.

    Keys are recomputed from the stored text (`agentflows.addresses`), so rows imported or seeded
    under an older normalisation compare the same way. Two addresses are the same door when their
    street parts are at least `SAME_DOOR_SIMILARITY` alike and `same_door` holds (house number and
    postcode equal, flats equal or on one side only); the shared-address count takes every
    variant of the door, so `12 Baker St` and `12 Baker Street, Flat 4` count as one address.
    """
    claims = claims_frame(conn, claim_ids)
    if claims.empty:
        return {}
    delivery = frame(
        conn,
        select(
            Address.id.label("delivery_address_id"),
            Address.line1,
            Address.city,
            Address.postcode,
            Address.country,
        ).where(Address.id.in_(claims["delivery_address_id"].unique().tolist())),
    )
    delivery["key"] = [normalize_address(r.line1, r.postcode, r.country) for r in delivery.itertuples(index=False)]
    claimants = frame(
        conn,
        select(Customer.id.label("customer_id"), Customer.last_name).where(
            Customer.id.in_(claims["customer_id"].unique().tolist())
        ),
    )
    df = claims.merge(delivery, on="delivery_address_id").merge(claimants, on="customer_id")
    known = frame(
        conn,
        select(
            KnownFraudAddress.id,
            KnownFraudAddress.line1,
            KnownFraudAddress.city,
            KnownFraudAddress.postcode,
            KnownFraudAddress.country,
        ),
    )
    keys = df["key"].unique().tolist()
    postcodes = sorted({compact_postcode(p) for p in delivery["postcode"]})
    nearby = frame(
        conn,
        select(Address.id, Address.line1, Address.postcode, Address.country, Order.customer_id, Customer.last_name)
        .join(Order, Order.delivery_address_id == Address.id)
        .join(Customer, Customer.id == Order.customer_id)
        .where(_postcode_sql(Address.postcode).in_(postcodes))
        .distinct(),
    )
    nearby_keys = [normalize_address(r.line1, r.postcode, r.country) for r in nearby.itertuples(index=False)]
    doors = _doors(keys, sorted(set(nearby_keys)))
    by_key: dict[str, dict[int, str]] = {}  # delivery key -> {customer_id: last name} over every variant of the door
    for other, cid, last in zip(nearby_keys, nearby["customer_id"], nearby["last_name"], strict=True):
        for key in doors.get(other, ()):
            by_key.setdefault(key, {})[int(cid)] = str(last).lower()

    best: dict[str, tuple[int | None, str | None, float, bool]] = {}
    if not known.empty:
        known_keys = [normalize_address(r.line1, r.postcode, r.country) for r in known.itertuples(index=False)]
        scores = process.cdist(
            [street_part(k) for k in keys],
            [street_part(k) for k in known_keys],
            scorer=fuzz.token_sort_ratio,
            workers=1,
        )
        for i, key in enumerate(keys):
            # the closest known address, preferring one that is the same door (a neighbour scores as high)
            order = np.argsort(-scores[i], kind="stable")[:5]
            j = next((int(k) for k in order if same_door(key, known_keys[int(k)])), int(order[0]))
            row = known.iloc[j]
            text = f"{row['line1']}, {row['postcode']} {row['city']}"
            best[key] = (int(row["id"]), text, round(float(scores[i][j]), 1), same_door(key, known_keys[j]))

    facts: dict[int, AddressFacts] = {}
    for row in df.itertuples(index=False):
        others = {c: last for c, last in by_key.get(row.key, {}).items() if c != row.customer_id}
        match_id, match_text, similarity, same_number = best.get(row.key, (None, None, 0.0, False))
        facts[int(row.claim_id)] = AddressFacts(
            claim_id=int(row.claim_id),
            order_id=int(row.order_id),
            customer_id=int(row.customer_id),
            delivery_address_id=int(row.delivery_address_id),
            delivery_address=f"{row.line1}, {row.postcode} {row.city}, {row.country}",
            fraud_match_id=match_id,
            fraud_match_address=match_text,
            fraud_match_similarity=similarity,
            fraud_match_same_number=same_number,
            customers_at_address=1 + len(others),
            unrelated_customers=sum(1 for last in others.values() if last != row.last_name.lower()),
            other_customer_ids=sorted(others)[:10],
        )
    return facts


def _doors(keys: list[str], candidates: list[str]) -> dict[str, list[str]]:
    """{candidate key: the delivery keys it is the same door as} (fuzzy street part, `same_door`)."""
    out: dict[str, list[str]] = {}
    if not keys or not candidates:
        return out
    scores = process.cdist(
        [street_part(k) for k in keys], [street_part(c) for c in candidates], scorer=fuzz.token_sort_ratio, workers=1
    )
    for i, key in enumerate(keys):
        for j in np.nonzero(scores[i] >= SAME_DOOR_SIMILARITY)[0]:
            if same_door(key, candidates[int(j)]):
                out.setdefault(candidates[int(j)], []).append(key)
    return out
