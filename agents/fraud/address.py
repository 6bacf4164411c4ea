"""Address agent: known fraud addresses (fuzzy) and one address shared by unrelated customers."""

from __future__ import annotations

from typing import Any

from pydantic_ai import Agent

from agents.durable import per_event_loop
from agents.fraud.common import noisy_or, signal_agent
from agents.fraud.models import SAME_DOOR_SIMILARITY, AddressFacts, Evidence, SignalName, SignalReport
from agents.workspace.agent_files import AgentFile

NAME = "fraud-signal-address"
SIGNAL: SignalName = "address"
FACTS = AddressFacts


def assess(f: AddressFacts) -> SignalReport:
    """The deterministic rule: fraud-list match and reuse by unrelated customers, combined."""
    evidence: list[Evidence] = []
    listed = 0.0
    if f.fraud_match_id is not None and f.fraud_match_similarity >= SAME_DOOR_SIMILARITY:
        ref = f"fraud_address:{f.fraud_match_id}"
        if f.on_fraud_list:
            listed = 0.85 if f.fraud_match_similarity >= 92 else 0.6
            evidence.append(
                Evidence(
                    ref=ref,
                    detail=f"Matches known fraud address {f.fraud_match_address} "
                    f"(similarity {f.fraud_match_similarity:.0f}).",
                )
            )
        else:
            listed = 0.25
            evidence.append(
                Evidence(
                    ref=ref,
                    detail=f"Same street as known fraud address {f.fraud_match_address}, "
                    "but another house or flat number.",
                )
            )
    reuse = 0.0
    if f.unrelated_customers >= 4:
        reuse = 0.8
    elif f.unrelated_customers >= 2:
        reuse = 0.4
    elif f.unrelated_customers == 1:
        reuse = 0.15
    if f.customers_at_address > 1:
        evidence.append(
            Evidence(
                ref=f"address:{f.delivery_address_id}",
                detail=(f"{f.customers_at_address} customers ship here, {f.unrelated_customers} with another surname."),
            )
        )
    score = noisy_or(listed, reuse)
    if listed >= 0.6:
        summary = f"Delivery address matches known fraud address #{f.fraud_match_id}"
    elif reuse >= 0.4:
        summary = f"Delivery address shared by {f.unrelated_customers} unrelated customers"
    elif listed > 0:
        summary = "Delivery address is a neighbour of a known fraud address, not the same door"
    elif f.customers_at_address > 1:
        summary = f"Delivery address shared by {f.customers_at_address} customers of one household"
    else:
        summary = "Delivery address is not on the fraud list and not shared"
    if score >= 0.4 and listed and reuse:
        summary += f", also used by {f.unrelated_customers} unrelated customers"
    return SignalReport(score=score, evidence=evidence, summary=summary + ".")


def compose_offline(payload: dict[str, Any]) -> SignalReport:
    report = assess(AddressFacts.model_validate(payload["facts"]))
    return report.model_copy(update={"summary": f"[offline] {report.summary}"})


@per_event_loop
def agent(file: AgentFile, model: str) -> Agent[tuple[str, ...], SignalReport]:
    """The agent for the run's `agents/fraud-signal-....yaml` and model (another file version: another agent)."""
    return signal_agent(file, model)
