"""Address signal facts: is the delivery address a known fraud address, and who else ships there?

Addresses are compared by their key (`agentflows.addresses`: case, punctuation, `Street`/`St.`/
`Str`, `Flat`/`Apt`/`#`), then fuzzily against the known-fraud list with rapidfuzz, so a typo or a
reordered flat number still matches. Because fuzzy scores barely move when only the house number
differs, the facts also say whether the numbers are identical: the neighbour of a fraud address is
not one. Reuse counts distinct customers with deliveries to the same normalised address, and how
many of them have another surname (a household shares an address; a reshipping drop does not).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from rapidfuzz import fuzz, process
from sqlalchemy import Connection, select

from agentflows.addresses import house_numbers
from agentflows.db.fraud import Address, Customer, KnownFraudAddress, Order
from agents.fraud.models import AddressFacts
from tasks.fraud.common import claims_frame, frame


def compute_address(claim_ids: Sequence[int], conn: Connection) -> dict[int, AddressFacts]:
    """Address facts for a batch of claims: three queries and one fuzzy matrix for the whole batch."""
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
            Address.normalized,
        ).where(Address.id.in_(claims["delivery_address_id"].unique().tolist())),
    )
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
            KnownFraudAddress.normalized,
        ),
    )
    keys = df["normalized"].unique().tolist()
    reuse = frame(
        conn,
        select(Address.normalized, Order.customer_id, Customer.last_name)
        .join(Order, Order.delivery_address_id == Address.id)
        .join(Customer, Customer.id == Order.customer_id)
        .where(Address.normalized.in_(keys))
        .distinct(),
    )
    by_key: dict[str, dict[int, str]] = {}  # normalized address -> {customer_id: last name}
    for key, cid, last in reuse.itertuples(index=False):
        by_key.setdefault(key, {})[int(cid)] = last.lower()

    best: dict[str, tuple[int | None, str | None, float, bool]] = {}
    if not known.empty:
        scores = process.cdist(keys, known["normalized"].tolist(), scorer=fuzz.token_sort_ratio, workers=1)
        for i, key in enumerate(keys):
            j = int(np.argmax(scores[i]))
            row = known.iloc[j]
            text = f"{row['line1']}, {row['postcode']} {row['city']}"
            same = house_numbers(key) == house_numbers(row["normalized"])
            best[key] = (int(row["id"]), text, round(float(scores[i][j]), 1), same)

    facts: dict[int, AddressFacts] = {}
    for row in df.itertuples(index=False):
        others = {c: last for c, last in by_key.get(row.normalized, {}).items() if c != row.customer_id}
        match_id, match_text, similarity, same_number = best.get(row.normalized, (None, None, 0.0, False))
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
