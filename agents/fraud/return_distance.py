"""Return-distance agent: a return parcel handed in far from the delivery and from the customer's life."""

from __future__ import annotations

import math
from typing import Any

from pydantic_ai import Agent

from agents.durable import per_event_loop
from agents.fraud.common import signal_agent
from agents.fraud.models import Evidence, ReturnFacts, SignalName, SignalReport
from agents.workspace.agent_files import AgentFile

NAME = "fraud-signal-return-distance"
SIGNAL: SignalName = "return_distance"
FACTS = ReturnFacts
NEAR_KM = 80.0


def assess(f: ReturnFacts) -> SignalReport:
    """The deterministic rule: distance that the customer's own history does not explain."""
    if f.return_id is None or f.distance_km is None:
        return SignalReport(score=0.0, summary="No return shipment for this order.")
    evidence = [
        Evidence(
            ref=f"return:{f.return_id}",
            detail=(f"Returned from {f.return_city}, {f.distance_km:,.0f} km from the delivery in {f.delivery_city}."),
        ),
    ]
    if f.distance_km < NEAR_KM:
        return SignalReport(score=0.05, evidence=evidence, summary="Returned from near the delivery address.")
    own = f.nearest_own_address_km
    if own is not None and own < NEAR_KM and f.nearest_own_address_id is not None:
        evidence.append(
            Evidence(
                ref=f"address:{f.nearest_own_address_id}",
                detail=(f"The return location is {own:,.0f} km from an address the customer used before."),
            )
        )
        return SignalReport(
            score=0.2,
            evidence=evidence,
            summary=(f"Returned {f.distance_km:,.0f} km away, but from a place the customer is known at (moved?)."),
        )
    far = min(1.0, math.log10(f.distance_km / NEAR_KM) / math.log10(30))
    score = 0.45 + 0.45 * far
    habit = f.prior_median_distance_km is not None and f.prior_returns >= 2 and f.prior_median_distance_km > NEAR_KM
    if habit:
        score *= 0.5
    summary = f"Returned {f.distance_km:,.0f} km from the delivery, from nowhere the customer is known at"
    summary += " (but their earlier returns also travelled far)." if habit else "."
    return SignalReport(score=round(score, 4), evidence=evidence, summary=summary)


def compose_offline(payload: dict[str, Any]) -> SignalReport:
    report = assess(ReturnFacts.model_validate(payload["facts"]))
    return report.model_copy(update={"summary": f"[offline] {report.summary}"})


@per_event_loop
def agent(file: AgentFile, model: str) -> Agent[tuple[str, ...], SignalReport]:
    """The agent for the run's `agents/fraud-signal-....yaml` and model (another file version: another agent)."""
    return signal_agent(file, model)
