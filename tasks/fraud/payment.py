"""Payment signal facts: chargebacks, declines and card/country mismatches around the claim.

Card testing shows as a burst of declines just before a successful order; a stolen card as a card
country that matches neither the customer nor the delivery; serial claimers as chargebacks. A
single decline or a traveller's foreign card is ordinary, so the facts keep counts and windows,
not just flags.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from sqlalchemy import Connection, select

from agentflows.db.fraud import Address, Claim, Customer, PaymentIncident
from agents.fraud.models import PaymentFacts, PaymentIncidentRef
from tasks.fraud.common import claims_frame, frame, grouped_records, utc


def compute_payment(claim_ids: Sequence[int], conn: Connection) -> dict[int, PaymentFacts]:
    """Payment facts for a batch: three queries (countries, incidents before the claim)."""
    claims = claims_frame(conn, claim_ids)
    if claims.empty:
        return {}
    ids = claims["claim_id"].tolist()
    countries = frame(
        conn,
        select(Address.id.label("delivery_address_id"), Address.country.label("delivery_country")).where(
            Address.id.in_(claims["delivery_address_id"].unique().tolist())
        ),
    )
    customers = frame(
        conn,
        select(Customer.id.label("customer_id"), Customer.country.label("customer_country")).where(
            Customer.id.in_(claims["customer_id"].unique().tolist())
        ),
    )
    incidents = frame(
        conn,
        select(
            Claim.id.label("claim_id"),
            PaymentIncident.id,
            PaymentIncident.kind,
            PaymentIncident.occurred_at,
            PaymentIncident.card_country,
        )
        .join(
            PaymentIncident,
            (PaymentIncident.customer_id == Claim.customer_id) & (PaymentIncident.occurred_at <= Claim.opened_at),
        )
        .where(Claim.id.in_(ids)),
    )
    incidents["occurred_at"] = utc(incidents["occurred_at"])
    incidents["kind"] = incidents["kind"].map(lambda k: getattr(k, "value", k))
    df = claims.merge(countries, on="delivery_address_id").merge(customers, on="customer_id")
    incidents = incidents.merge(df[["claim_id", "opened_at", "placed_at"]], on="claim_id")
    year = incidents[incidents["occurred_at"] >= incidents["opened_at"] - timedelta(days=365)]
    declines = incidents[
        (incidents["kind"] == "decline")
        & (incidents["occurred_at"] <= incidents["placed_at"])
        & (incidents["occurred_at"] >= incidents["placed_at"] - timedelta(days=30))
    ]
    chargebacks = year[year["kind"] == "chargeback"].groupby("claim_id").size()
    mismatches = year[year["kind"] == "card_mismatch"].groupby("claim_id").size()
    decline_counts = declines.groupby("claim_id").size()
    burst = declines[declines["occurred_at"] >= declines["placed_at"] - timedelta(days=7)].groupby("claim_id").size()
    listed = grouped_records(year, "claim_id", ["occurred_at"], ascending=False)

    facts: dict[int, PaymentFacts] = {}
    for row in df.itertuples(index=False):
        cid = int(row.claim_id)
        shown = listed.get(cid, [])[:10]
        facts[cid] = PaymentFacts(
            claim_id=cid,
            customer_id=int(row.customer_id),
            order_id=int(row.order_id),
            customer_country=row.customer_country,
            order_card_country=row.card_country,
            delivery_country=row.delivery_country,
            card_mismatch=row.card_country != row.delivery_country,
            chargebacks_365d=int(chargebacks.get(cid, 0)),
            declines_7d=int(burst.get(cid, 0)),
            declines_30d=int(decline_counts.get(cid, 0)),
            card_mismatches_365d=int(mismatches.get(cid, 0)),
            incidents=[
                PaymentIncidentRef(
                    id=int(i["id"]), kind=i["kind"], at=i["occurred_at"].to_pydatetime(), card_country=i["card_country"]
                )
                for i in shown
            ],
        )
    return facts
