"""Customer agent: account age, spend, order velocity and claim history (by recency and outcome) before this claim."""

from __future__ import annotations

from typing import Any

from pydantic_ai import Agent

from agents.durable import per_event_loop
from agents.fraud.common import noisy_or, plural, signal_agent
from agents.fraud.models import VELOCITY_DAYS, CustomerFacts, Evidence, SignalName, SignalReport
from agents.workspace.agent_files import AgentFile

NAME = "fraud-signal-customer"
SIGNAL: SignalName = "customer"
FACTS = CustomerFacts


def velocity(f: CustomerFacts) -> float:
    """A burst of orders or of value in the last days, against the account's age (0 = nothing unusual).

    A new account placing several high-value orders within days is how a stolen card is emptied;
    an account with years of history doing the same is a sale or a gift season, and counts little.
    """
    orders = max(f.orders_recent, f.card_orders_recent)
    value = max(f.value_recent, f.card_value_recent)
    if orders < 2 or value < 600:
        return 0.0
    strength = min(1.0, (orders - 1) / 2) * min(1.0, value / 1500)
    age = f.account_age_at_order_days
    if age < 30:
        return round(0.9 * strength, 4)
    if age < 120:
        return round(0.5 * strength, 4)
    return round(0.1 * strength, 4)


def card_burst(f: CustomerFacts) -> str:
    """The same-card part of a burst in words (the card itself is never named)."""
    if not f.card_known:
        return f"{f.card_orders_recent} on a card of the same country"
    accounts = f" across {f.card_accounts_recent} accounts" if f.card_accounts_recent > 1 else ""
    return f"{f.card_orders_recent} worth {f.card_value_recent:,.2f} on the same card{accounts}"


DISPUTED_AGAIN = 0.4
"""Weighted earlier disputed deliveries from which a claim counts as a repeat (one within about 14 months)."""


def history(f: CustomerFacts) -> float:
    """Earlier claims by recency and outcome (0 = a clean record).

    Three claims this season weigh ~3, three old ones far less, and a claim on a parcel the carrier
    scanned lost does not count at all. A "not received" claim on a parcel scanned delivered counts
    apart and more: honest customers rarely dispute a delivery scan twice (a porch theft is once),
    while "item not received" abuse is exactly that, repeated. Broken items and refund requests,
    which loyal customers file a few times a year, keep the mild scale.
    """
    weighted = f.prior_claims_weighted
    any_claims = 0.0 if weighted < 0.6 else 0.1 if weighted < 1.1 else 0.4 if weighted < 1.5 else 0.7
    disputes = f.prior_disputed_deliveries_weighted
    disputed = 0.0 if disputes < DISPUTED_AGAIN else 0.45 if disputes < 1.0 else 0.65 if disputes < 1.6 else 0.8
    return max(any_claims, disputed)


def assess(f: CustomerFacts) -> SignalReport:
    """The deterministic rule: new account, unusual basket, repeated claims, combined."""
    evidence = [
        Evidence(
            ref=f"customer:{f.customer_id}",
            detail=(
                f"Account {f.account_age_days:.0f} days old, {f.orders_before} earlier orders, "
                f"lifetime GMV {f.lifetime_gmv:,.2f}."
            ),
        )
    ]
    if f.account_age_days < 14:
        age = 0.55
    elif f.account_age_days < 60:
        age = 0.35
    elif f.account_age_days < 180:
        age = 0.1
    else:
        age = 0.0
    claims = history(f)
    for cid in f.prior_claim_ids[:3]:
        evidence.append(Evidence(ref=f"claim:{cid}", detail="An earlier claim by the same customer."))
    unusual = 0.0
    if f.order_amount >= 300 and (f.avg_order_amount is None or f.order_amount >= 3 * f.avg_order_amount):
        unusual = 0.3
        usual = f"{f.avg_order_amount:,.2f}" if f.avg_order_amount is not None else "none (first order)"
        evidence.append(
            Evidence(
                ref=f"order:{f.order_id}",
                detail=(f"Order of {f.order_amount:,.2f}; the customer's usual basket: {usual}."),
            )
        )
    burst = velocity(f)
    if burst:
        evidence.append(
            Evidence(
                ref=f"order:{f.order_id}",
                detail=(
                    f"{f.orders_recent} orders worth {f.value_recent:,.2f} within {VELOCITY_DAYS} days of this one "
                    f"({card_burst(f)}), the account {f.account_age_at_order_days:.0f} days old at the order."
                ),
            )
        )
    score = noisy_or(age, claims, unusual, burst)
    parts = []
    if age >= 0.35:
        parts.append(f"new account ({f.account_age_days:.0f} days)")
    if f.prior_disputed_deliveries_weighted >= DISPUTED_AGAIN:
        parts.append("another 'not received' claim on a parcel scanned delivered")
    elif claims >= 0.4:
        parts.append(f"{plural(f.prior_claims_365d, 'claim')} in the past year")
    if unusual:
        parts.append("order far above the usual basket")
    if burst:
        parts.append(f"{f.orders_recent} orders worth {f.value_recent:,.0f} within {VELOCITY_DAYS} days")
    summary = (
        ("Risky profile: " + ", ".join(parts))
        if parts
        else (
            f"Established customer: {f.account_age_days:.0f} days, {f.orders_before} orders, "
            f"{plural(f.prior_claims_365d, 'claim')} in the past year"
        )
    )
    return SignalReport(score=score, evidence=evidence, summary=summary + ".")


def compose_offline(payload: dict[str, Any]) -> SignalReport:
    report = assess(CustomerFacts.model_validate(payload["facts"]))
    return report.model_copy(update={"summary": f"[offline] {report.summary}"})


@per_event_loop
def agent(file: AgentFile, model: str) -> Agent[tuple[str, ...], SignalReport]:
    """The agent for the run's `agents/fraud-signal-....yaml` and model (another file version: another agent)."""
    return signal_agent(file, model)
