"""Payment agent: chargebacks, card-testing declines and card/country mismatches."""

from __future__ import annotations

from typing import Any

from pydantic_ai import Agent

from agents.durable import per_event_loop
from agents.fraud.common import noisy_or, plural, signal_agent
from agents.fraud.models import Evidence, PaymentFacts, SignalName, SignalReport
from agents.workspace.agent_files import AgentFile

NAME = "fraud-signal-payment"
SIGNAL: SignalName = "payment"
FACTS = PaymentFacts


def assess(f: PaymentFacts) -> SignalReport:
    """The deterministic rule: chargebacks, declines and mismatches, combined."""
    evidence = [
        Evidence(
            ref=f"payment_incident:{i.id}",
            detail=f"{i.kind.replace('_', ' ')} on {i.at:%Y-%m-%d}"
            + (f" (card from {i.card_country})" if i.card_country else "")
            + ".",
        )
        for i in f.incidents[:6]
    ]
    chargebacks = {0: 0.0, 1: 0.35}.get(f.chargebacks_365d, 0.75)
    if f.declines_7d >= 4:  # a burst of declines right before the order: card testing
        declines = 0.7
    elif f.declines_7d >= 2:
        declines = 0.55
    else:
        declines = 0.15 if f.declines_30d else 0.0
    mismatch = 0.35 if f.card_mismatch else 0.0
    repeat_mismatch = 0.3 if f.card_mismatches_365d >= 2 else 0.0
    if f.card_mismatch:
        evidence.append(
            Evidence(
                ref=f"order:{f.order_id}",
                detail=(f"Paid with a card from {f.order_card_country}, delivered to {f.delivery_country}."),
            )
        )
    score = noisy_or(chargebacks, declines, mismatch, repeat_mismatch)
    parts = []
    if f.declines_7d >= 2:
        parts.append(f"{f.declines_7d} declines in the 7 days before the order (card testing?)")
    elif f.declines_30d:
        parts.append(f"{plural(f.declines_30d, 'decline')} in the 30 days before the order")
    if f.card_mismatch:
        parts.append(f"card from {f.order_card_country}, delivery to {f.delivery_country}")
    if f.chargebacks_365d:
        parts.append(f"{plural(f.chargebacks_365d, 'chargeback')} in the past year")
    summary = "; ".join(parts).capitalize() if parts else "No payment incidents in the past year"
    return SignalReport(score=score, evidence=evidence, summary=summary + ".")


def compose_offline(payload: dict[str, Any]) -> SignalReport:
    report = assess(PaymentFacts.model_validate(payload["facts"]))
    return report.model_copy(update={"summary": f"[offline] {report.summary}"})


@per_event_loop
def agent(file: AgentFile, model: str) -> Agent[tuple[str, ...], SignalReport]:
    """The agent for the run's `agents/fraud-signal-....yaml` and model (another file version: another agent)."""
    return signal_agent(file, model)
