"""Tracking signal facts: what the carrier saw, and what the customer's parcels usually do.

A parcel scanned `delivered` and then claimed as not received is the classic pattern, but porch
theft happens to honest people too; what separates them is repetition: earlier orders that went
"lost", earlier not-received claims on delivered parcels. A parcel the carrier itself scanned as
lost (and never delivered) is a carrier failure, not a customer's story.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, func, select
from sqlalchemy.orm import aliased

from agentflows.db.fraud import Claim, ClaimKind, Order, ShipmentEvent, ShipmentEventKind
from agents.fraud.models import TrackingEvent, TrackingFacts
from tasks.fraud.common import claims_frame, frame, grouped_records, utc


def compute_tracking(claim_ids: Sequence[int], conn: Connection) -> dict[int, TrackingFacts]:
    """Tracking facts for a batch: three queries (this order's scans, lost history, claim history)."""
    claims = claims_frame(conn, claim_ids)
    if claims.empty:
        return {}
    ids = claims["claim_id"].tolist()
    events = frame(
        conn,
        select(
            Claim.id.label("claim_id"),
            ShipmentEvent.id,
            ShipmentEvent.kind,
            ShipmentEvent.occurred_at,
            ShipmentEvent.location,
        )
        .join(ShipmentEvent, ShipmentEvent.order_id == Claim.order_id)
        .where(Claim.id.in_(ids)),
    )
    events["occurred_at"] = utc(events["occurred_at"])
    events["kind"] = events["kind"].map(lambda k: getattr(k, "value", k))
    lost_before = frame(
        conn,
        select(Claim.id.label("claim_id"), func.count(func.distinct(Order.id)).label("n"))
        .join(
            Order,
            (Order.customer_id == Claim.customer_id)
            & (Order.placed_at < Claim.opened_at)
            & (Order.id != Claim.order_id),
        )
        .join(ShipmentEvent, (ShipmentEvent.order_id == Order.id) & (ShipmentEvent.kind == ShipmentEventKind.LOST))
        .where(Claim.id.in_(ids))
        .group_by(Claim.id),
    ).set_index("claim_id")["n"]
    earlier = aliased(Claim)
    inr_before = frame(
        conn,
        select(Claim.id.label("claim_id"), func.count(func.distinct(earlier.id)).label("n"))
        .join(
            earlier,
            (earlier.customer_id == Claim.customer_id)
            & (earlier.opened_at < Claim.opened_at)
            & (earlier.kind == ClaimKind.NOT_RECEIVED),
        )
        .join(
            ShipmentEvent,
            (ShipmentEvent.order_id == earlier.order_id) & (ShipmentEvent.kind == ShipmentEventKind.DELIVERED),
        )
        .where(Claim.id.in_(ids))
        .group_by(Claim.id),
    ).set_index("claim_id")["n"]

    by_claim = grouped_records(events, "claim_id", ["occurred_at", "id"])
    facts: dict[int, TrackingFacts] = {}
    for row in claims.itertuples(index=False):
        cid = int(row.claim_id)
        rows = by_claim.get(cid, [])
        delivered = [e["occurred_at"] for e in rows if e["kind"] == "delivered"]
        delivered_at = delivered[-1].to_pydatetime() if delivered else None
        facts[cid] = TrackingFacts(
            claim_id=cid,
            order_id=int(row.order_id),
            customer_id=int(row.customer_id),
            claim_kind=row.kind,
            carrier=row.carrier,
            events=[
                TrackingEvent(
                    id=int(e["id"]), kind=e["kind"], at=e["occurred_at"].to_pydatetime(), location=e["location"] or ""
                )
                for e in rows
            ],
            delivered_at=delivered_at,
            delivered_then_claimed=bool(delivered) and row.kind == "not_received",
            days_delivered_to_claim=(
                round((row.opened_at - delivered[-1]).total_seconds() / 86400, 1) if delivered else None
            ),
            lost_scans_this_order=sum(e["kind"] == "lost" for e in rows),
            exceptions_this_order=sum(e["kind"] == "exception" for e in rows),
            customer_lost_orders_before=int(lost_before.get(cid, 0)),
            customer_delivered_inr_claims_before=int(inr_before.get(cid, 0)),
        )
    return facts
