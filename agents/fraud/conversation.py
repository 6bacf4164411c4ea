"""Conversation agent: judges whether the claim message follows a known fraudulent template."""

from __future__ import annotations

from typing import Any

from pydantic_ai import Agent

from agents.durable import per_event_loop
from agents.fraud.common import signal_agent
from agents.fraud.models import ConversationFacts, Evidence, SignalName, SignalReport
from agents.workspace.agent_files import AgentFile

NAME = "fraud-signal-conversation"
SIGNAL: SignalName = "conversation"
FACTS = ConversationFacts
LOW, HIGH = 0.25, 0.6  # cosine similarities (fixed-IDF char n-grams) between which suspicion rises to its maximum
CLOSE = LOW + (HIGH - LOW) * 0.6 / 0.9
"""The similarity at which a message "closely follows" a template (rule score 0.6): what hard rules call a match."""


def assess(f: ConversationFacts) -> SignalReport:
    """The deterministic rule: similarity of the closest template, scaled between LOW and HIGH."""
    if not f.matches:
        return SignalReport(score=0.0, summary=f"No templates to compare with ({f.templates_in_use} in use).")
    best = f.matches[0]
    score = round(0.9 * min(1.0, max(0.0, (best.similarity - LOW) / (HIGH - LOW))), 4)
    evidence = [
        Evidence(ref=m.ref, detail=f"Similarity {m.similarity:.2f} to '{m.name}': {m.tactic}"[:300])
        for m in f.matches
        if m.similarity >= LOW
    ]
    if score >= 0.6:
        summary = f"Message closely follows the '{best.name}' template (similarity {best.similarity:.2f})"
    elif score > 0:
        summary = f"Message shares wording with the '{best.name}' template (similarity {best.similarity:.2f})"
    else:
        summary = f"Message does not resemble any of the {f.templates_in_use} templates"
    return SignalReport(score=score, evidence=evidence, summary=summary + ".")


def compose_offline(payload: dict[str, Any]) -> SignalReport:
    report = assess(ConversationFacts.model_validate(payload["facts"]))
    return report.model_copy(update={"summary": f"[offline] {report.summary}"})


@per_event_loop
def agent(file: AgentFile, model: str) -> Agent[tuple[str, ...], SignalReport]:
    """The agent for the run's `agents/fraud-signal-....yaml` and model (another file version: another agent)."""
    return signal_agent(file, model)
