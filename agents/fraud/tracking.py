"""Tracking agent: delivered-then-claimed, repeated not-received claims on delivered parcels; carrier losses benign."""

from __future__ import annotations

from typing import Any

from pydantic_ai import Agent

from agents.durable import per_event_loop
from agents.fraud.common import noisy_or, plural, signal_agent
from agents.fraud.models import Evidence, SignalName, SignalReport, TrackingFacts
from agents.workspace.agent_files import AgentFile

NAME = "fraud-signal-tracking"
SIGNAL: SignalName = "tracking"
FACTS = TrackingFacts


def carrier_failure(f: TrackingFacts) -> bool:
    """The carrier scanned this parcel lost (once or more) and never delivered it: its failure, not the customer's."""
    return f.lost_scans_this_order >= 1 and f.delivered_at is None


def assess(f: TrackingFacts) -> SignalReport:
    """The deterministic rule: delivered-then-claimed and repeated not-received claims on delivered parcels.

    A loss the carrier scanned is never suspicious on this signal, however many lost scans it has,
    and earlier carrier-scanned losses barely count (see the agent's instructions, which say the same).
    """
    evidence: list[Evidence] = []
    delivered = 0.45 if f.delivered_then_claimed else 0.0
    for event in f.events:
        if event.kind in {"delivered", "lost", "exception"}:
            where = f" at {event.location}" if event.location else ""
            detail = f"{f.carrier} scanned '{event.kind}' on {event.at:%Y-%m-%d}{where}."
            evidence.append(Evidence(ref=f"shipment_event:{event.id}", detail=detail))
    repeat_claims = {0: 0.0, 1: 0.6}.get(f.customer_delivered_inr_claims_before, 0.8)
    # Earlier parcels the carrier itself scanned lost are the carrier's failures, not the customer's:
    # only a run of them (three or more) hints at something, and weakly.
    repeat_lost = 0.15 if f.customer_lost_orders_before >= 3 else 0.0
    exceptions = 0.1 if f.exceptions_this_order and not carrier_failure(f) else 0.0
    score = noisy_or(delivered, repeat_claims, repeat_lost, exceptions)
    if carrier_failure(f):
        summary = f"{f.carrier} scanned the parcel as lost and never delivered it: a carrier failure, not a fraud sign"
    elif f.delivered_then_claimed:
        summary = f"Scanned delivered {f.days_delivered_to_claim or 0:.0f} days before a not-received claim"
    else:
        summary = "Tracking is consistent with the claim"
    if repeat_claims:
        summary += (
            f"; {plural(f.customer_delivered_inr_claims_before, 'earlier not-received claim')} on delivered parcels"
        )
    if repeat_lost:
        summary += f"; {plural(f.customer_lost_orders_before, 'earlier order')} scanned lost"
    return SignalReport(score=score, evidence=evidence[:8], summary=summary + ".")


def compose_offline(payload: dict[str, Any]) -> SignalReport:
    report = assess(TrackingFacts.model_validate(payload["facts"]))
    return report.model_copy(update={"summary": f"[offline] {report.summary}"})


@per_event_loop
def agent(file: AgentFile, model: str) -> Agent[tuple[str, ...], SignalReport]:
    """The agent for the run's `agents/fraud-signal-....yaml` and model (another file version: another agent)."""
    return signal_agent(file, model)
