"""Return-distance signal facts: where did the return parcel really come from?

An empty-box or swapped-item return is often handed to a carrier far from where the order was
delivered. Distance alone misleads (people move, travel, return from work), so the facts also
measure the return location against the customer's own history: the closest address the customer
had deliveries to (or registered as home) before the claim, and how far their earlier returns
travelled. All distances are great-circle distances from gazetteer coordinates.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
from sqlalchemy import Connection, select
from sqlalchemy.orm import aliased

from agentflows.db.fraud import Address, Claim, Customer, Order, OrderReturn
from agents.fraud.models import ReturnFacts
from tasks.fraud.common import claims_frame, frame, haversine_km, none_if_nan


def compute_return_distance(claim_ids: Sequence[int], conn: Connection) -> dict[int, ReturnFacts]:
    """Return-distance facts for a batch: four queries, distances computed as arrays."""
    claims = claims_frame(conn, claim_ids)
    if claims.empty:
        return {}
    ids = claims["claim_id"].tolist()
    delivered = aliased(Address)
    returned = aliased(Address)
    # 1. The claimed order's delivery point and its latest return (if any).
    points = frame(
        conn,
        select(
            Claim.id.label("claim_id"),
            delivered.city.label("delivery_city"),
            delivered.lat.label("d_lat"),
            delivered.lon.label("d_lon"),
            OrderReturn.id.label("return_id"),
            OrderReturn.created_at.label("returned_at"),
            returned.id.label("return_address_id"),
            returned.city.label("return_city"),
            returned.lat.label("r_lat"),
            returned.lon.label("r_lon"),
        )
        .join(Order, Order.id == Claim.order_id)
        .join(delivered, delivered.id == Order.delivery_address_id)
        .outerjoin(OrderReturn, OrderReturn.order_id == Order.id)
        .outerjoin(returned, returned.id == OrderReturn.return_address_id)
        .where(Claim.id.in_(ids)),
    )
    points = points.sort_values(["claim_id", "returned_at"]).drop_duplicates("claim_id", keep="last")
    df = claims.merge(points, on="claim_id")
    df["distance_km"] = haversine_km(df["d_lat"], df["d_lon"], df["r_lat"], df["r_lon"])

    # 2. Places the customer is known at: deliveries of earlier orders, plus the registered home.
    own_orders = frame(
        conn,
        select(Claim.id.label("claim_id"), Address.id.label("own_id"), Address.lat, Address.lon)
        .join(Order, (Order.customer_id == Claim.customer_id) & (Order.placed_at <= Claim.opened_at))
        .join(Address, Address.id == Order.delivery_address_id)
        .where(Claim.id.in_(ids), Order.id != Claim.order_id)
        .distinct(),
    )
    own_home = frame(
        conn,
        select(Claim.id.label("claim_id"), Address.id.label("own_id"), Address.lat, Address.lon)
        .join(Customer, Customer.id == Claim.customer_id)
        .join(Address, Address.id == Customer.home_address_id)
        .where(Claim.id.in_(ids)),
    )
    own = pd.concat([own_orders, own_home], ignore_index=True).merge(
        df[["claim_id", "r_lat", "r_lon", "return_address_id"]].dropna(subset=["r_lat"]), on="claim_id"
    )
    own["km"] = haversine_km(own["lat"], own["lon"], own["r_lat"], own["r_lon"])
    nearest = own.sort_values("km").drop_duplicates("claim_id").set_index("claim_id")

    # 3. The customer's earlier returns: how far do their returns usually travel?
    history_delivery = aliased(Address)
    history_return = aliased(Address)
    earlier = aliased(Order)
    history = frame(
        conn,
        select(
            Claim.id.label("claim_id"),
            history_delivery.lat.label("d_lat"),
            history_delivery.lon.label("d_lon"),
            history_return.lat.label("r_lat"),
            history_return.lon.label("r_lon"),
        )
        .join(earlier, (earlier.customer_id == Claim.customer_id) & (earlier.id != Claim.order_id))
        .join(OrderReturn, (OrderReturn.order_id == earlier.id) & (OrderReturn.created_at < Claim.opened_at))
        .join(history_delivery, history_delivery.id == earlier.delivery_address_id)
        .join(history_return, history_return.id == OrderReturn.return_address_id)
        .where(Claim.id.in_(ids)),
    )
    history["km"] = haversine_km(history["d_lat"], history["d_lon"], history["r_lat"], history["r_lon"])
    past = history.groupby("claim_id")["km"].agg(["count", "median"])

    facts: dict[int, ReturnFacts] = {}
    for row in df.itertuples(index=False):
        cid = int(row.claim_id)
        has_return = not pd.isna(row.return_id)
        near = nearest.loc[cid] if has_return and cid in nearest.index else None
        facts[cid] = ReturnFacts(
            claim_id=cid,
            order_id=int(row.order_id),
            customer_id=int(row.customer_id),
            return_id=int(row.return_id) if has_return else None,
            delivery_address_id=int(row.delivery_address_id),
            delivery_city=row.delivery_city,
            return_address_id=int(row.return_address_id) if has_return else None,
            return_city=row.return_city if has_return else None,
            distance_km=round(float(row.distance_km), 1) if has_return else None,
            nearest_own_address_id=int(near["own_id"]) if near is not None else None,
            nearest_own_address_km=round(float(near["km"]), 1) if near is not None else None,
            prior_returns=int(past.loc[cid, "count"]) if cid in past.index else 0,
            prior_median_distance_km=(
                round(float(none_if_nan(past.loc[cid, "median"]) or 0.0), 1) if cid in past.index else None
            ),
        )
    return facts
