"""Customer signal facts: who is claiming, judged by their own history up to the claim.

Account age, orders and spend before the claim, how this order compares with their usual basket,
how often they claimed or had payment incidents before, and velocity: the account's orders and
their value within `VELOCITY_DAYS` of the claimed order (placed before the claim), overall and on the
same card. The same card is the order's `card_ref` (the payment processor's token) on any account, so
one card emptied through several new accounts shows as one burst; an order without a `card_ref` (the
seed, exports without one) falls back to the account's orders on a card of the same country. Earlier claims are also
weighted by recency (half-life `HALF_LIFE_DAYS`) and by outcome: a claim on a parcel the carrier
itself scanned lost is the carrier's failure and does not count, and a "not received" claim on a
parcel the carrier scanned delivered (a disputed delivery) is counted apart, because that one
repeated is how "item not received" abuse looks, while an occasional broken item or refund request
is ordinary. Only history before the claim counts, so a case looks the same whenever it is checked.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import pandas as pd
from sqlalchemy import Connection, func, select
from sqlalchemy.orm import aliased

from agentflows.db.fraud import Claim, ClaimKind, Customer, Order, PaymentIncident, ShipmentEvent, ShipmentEventKind
from agents.fraud.models import VELOCITY_DAYS, CustomerFacts
from tasks.fraud.common import claims_frame, frame, grouped_records, utc

HALF_LIFE_DAYS = 180.0
"""An earlier claim counts half as much after this many days (history weighted by recency)."""
Placed = aliased(Order)


def compute_customer(claim_ids: Sequence[int], conn: Connection) -> dict[int, CustomerFacts]:
    """Customer facts for a batch: four queries (profile, orders, earlier claims, incidents)."""
    claims = claims_frame(conn, claim_ids)
    if claims.empty:
        return {}
    ids = claims["claim_id"].tolist()
    profile = frame(
        conn,
        select(Customer.id.label("customer_id"), Customer.signup_at, Customer.lifetime_gmv).where(
            Customer.id.in_(claims["customer_id"].unique().tolist())
        ),
    )
    profile["signup_at"] = utc(profile["signup_at"])
    orders = frame(
        conn,
        select(
            Claim.id.label("claim_id"),
            func.count(Order.id).label("orders_before"),
            func.avg(Order.amount).label("avg_order_amount"),
        )
        .join(Order, (Order.customer_id == Claim.customer_id) & (Order.placed_at < Claim.opened_at))
        .where(Claim.id.in_(ids), Order.id != Claim.order_id)
        .group_by(Claim.id),
    ).set_index("claim_id")
    earlier = aliased(Claim)
    carrier_lost = select(ShipmentEvent.order_id).where(ShipmentEvent.kind == ShipmentEventKind.LOST).scalar_subquery()
    delivered = (
        select(ShipmentEvent.order_id).where(ShipmentEvent.kind == ShipmentEventKind.DELIVERED).scalar_subquery()
    )
    prior = frame(
        conn,
        select(
            Claim.id.label("claim_id"),
            earlier.id.label("prior_id"),
            earlier.opened_at.label("prior_at"),
            earlier.order_id.in_(carrier_lost).label("carrier_lost"),
            ((earlier.kind == ClaimKind.NOT_RECEIVED) & earlier.order_id.in_(delivered)).label("disputed_delivery"),
        )
        .join(earlier, (earlier.customer_id == Claim.customer_id) & (earlier.opened_at < Claim.opened_at))
        .where(Claim.id.in_(ids)),
    )
    prior["prior_at"] = utc(prior["prior_at"])
    burst = frame(  # velocity: orders within VELOCITY_DAYS of the claimed one, before the claim, on the
        conn,  # account or (when the processor's token is known) on the same card on any account: one query
        select(
            Claim.id.label("claim_id"),
            Order.amount,
            Order.card_country,
            Order.customer_id,
            (Order.customer_id == Claim.customer_id).label("own"),
            (Order.card_ref == Placed.card_ref).label("card"),
            Order.placed_at,
            Placed.placed_at.label("claimed_placed_at"),
        )
        .join(Placed, Placed.id == Claim.order_id)
        .join(
            Order,
            ((Order.customer_id == Claim.customer_id) | (Order.card_ref == Placed.card_ref))
            & (Order.placed_at < Claim.opened_at),
        )
        .where(Claim.id.in_(ids)),
    )
    if not burst.empty:
        gap = (utc(burst["placed_at"]) - utc(burst["claimed_placed_at"])).abs()
        burst = burst[gap <= timedelta(days=VELOCITY_DAYS)]
    same_card = burst["card"].fillna(False).astype(bool)  # NULL when the order has no card_ref
    card_burst = burst[same_card].copy()
    burst = burst[burst["own"].astype(bool)].copy()
    incidents = frame(
        conn,
        select(Claim.id.label("claim_id"), PaymentIncident.occurred_at)
        .join(
            PaymentIncident,
            (PaymentIncident.customer_id == Claim.customer_id) & (PaymentIncident.occurred_at < Claim.opened_at),
        )
        .where(Claim.id.in_(ids)),
    )
    incidents["occurred_at"] = utc(incidents["occurred_at"])

    df = claims.merge(profile, on="customer_id")
    burst["amount"] = burst["amount"].astype(float)
    burst = burst.merge(claims[["claim_id", "card_country"]], on="claim_id", suffixes=("", "_claimed"))
    burst["same_card"] = burst["card_country"] == burst["card_country_claimed"]
    velocity = burst.groupby("claim_id").agg(
        orders=("amount", "size"),
        value=("amount", "sum"),
        card_orders=("same_card", "sum"),
        card_value=("amount", lambda a: float(a[burst.loc[a.index, "same_card"]].sum())),
    )
    velocity["card_accounts"] = 1  # the card-country stand-in knows only this account
    if not card_burst.empty:  # a known card: its own orders on every account replace the card-country stand-in
        card_burst["amount"] = card_burst["amount"].astype(float)
        by_card = card_burst.groupby("claim_id").agg(
            card_orders=("amount", "size"), card_value=("amount", "sum"), card_accounts=("customer_id", "nunique")
        )
        velocity.loc[by_card.index.intersection(velocity.index), list(by_card.columns)] = by_card
    prior = prior.merge(claims[["claim_id", "opened_at"]], on="claim_id")
    prior["recent"] = prior["prior_at"] >= prior["opened_at"] - timedelta(days=365)
    incidents = incidents.merge(claims[["claim_id", "opened_at"]], on="claim_id")
    recent_incidents = incidents[incidents["occurred_at"] >= incidents["opened_at"] - timedelta(days=365)]
    incident_counts = recent_incidents.groupby("claim_id").size()
    prior_groups = grouped_records(prior, "claim_id", ["prior_at"], ascending=False)

    def weighted(opened_at: pd.Timestamp, history: list[dict[str, Any]], disputed_only: bool = False) -> float:
        """Earlier claims by recency, carrier-scanned losses left out (only disputed deliveries if asked)."""
        return round(
            sum(
                0.5 ** ((opened_at - h["prior_at"]).total_seconds() / 86400 / HALF_LIFE_DAYS)
                for h in history
                if not h["carrier_lost"] and (h["disputed_delivery"] or not disputed_only)
            ),
            3,
        )

    known_cards = set(card_burst["claim_id"].tolist())
    facts: dict[int, CustomerFacts] = {}
    for row in df.itertuples(index=False):
        cid = int(row.claim_id)
        history = prior_groups.get(cid, [])
        has_orders = cid in orders.index and orders.loc[cid, "orders_before"] > 0
        facts[cid] = CustomerFacts(
            claim_id=cid,
            customer_id=int(row.customer_id),
            order_id=int(row.order_id),
            account_age_days=round((row.opened_at - row.signup_at).total_seconds() / 86400, 1),
            orders_before=int(orders.loc[cid, "orders_before"]) if has_orders else 0,
            lifetime_gmv=round(float(row.lifetime_gmv), 2),
            order_amount=round(row.order_amount, 2),
            avg_order_amount=round(float(orders.loc[cid, "avg_order_amount"]), 2) if has_orders else None,
            prior_claims=len(history),
            prior_claims_365d=sum(1 for h in history if h["recent"]),
            prior_claims_weighted=weighted(row.opened_at, history),
            prior_disputed_deliveries_weighted=weighted(row.opened_at, history, disputed_only=True),
            account_age_at_order_days=round((row.placed_at - row.signup_at).total_seconds() / 86400, 1),
            orders_recent=int(velocity.loc[cid, "orders"]) if cid in velocity.index else 1,
            value_recent=round(float(velocity.loc[cid, "value"]), 2) if cid in velocity.index else row.order_amount,
            card_orders_recent=int(velocity.loc[cid, "card_orders"]) if cid in velocity.index else 1,
            card_value_recent=(
                round(float(velocity.loc[cid, "card_value"]), 2) if cid in velocity.index else row.order_amount
            ),
            card_accounts_recent=int(velocity.loc[cid, "card_accounts"]) if cid in velocity.index else 1,
            card_known=cid in known_cards,
            prior_claim_ids=[int(h["prior_id"]) for h in history[:10]],
            payment_incidents_365d=int(incident_counts.get(cid, 0)),
        )
    return facts
