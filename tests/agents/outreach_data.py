"""Hand-built outreach inputs for agent tests (no database needed)."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache

from agentflows.workspace import shipped_snapshot
from agents.outreach.brief import HistoryItem, ProspectProfile, ResearchInput, WebFindings
from agents.workspace import Workspace, load_workspace

SHIPPED_WRITERS = ("existing-customer-expansion", "new-logo-executive", "small-business-owner", "technical-buyer")


@cache
def shipped_workspace() -> Workspace:
    """The workspace every new installation starts with (`agentflows/data/workspace`)."""
    return load_workspace(shipped_snapshot())


def profile(**overrides: object) -> ProspectProfile:
    data: dict[str, object] = dict(
        contact_id=7,
        name="Ada Byrne",
        role="VP of Operations",
        seniority="vp",
        department="Operations",
        account_id=3,
        company="Byrne Freight",
        domain="byrnefreight.example",
        industry="Logistics",
        employees=600,
        region="Nordics",
        is_customer=False,
        products_owned=[],
    )
    return ProspectProfile.model_validate(data | overrides)


def research_input(web_text: str | None = None, **overrides: object) -> ResearchInput:
    history = [
        HistoryItem(
            ref="crm:activity:11",
            when=datetime(2026, 9, 2, tzinfo=UTC),
            kind="call",
            subject="Discovery call",
            text="Ada said reporting takes 6 days each month.",
        ),
        HistoryItem(
            ref="crm:deal:4",
            when=datetime(2026, 3, 1, tzinfo=UTC),
            kind="deal lost",
            subject="Data Pipelines deal worth $60,000",
        ),
    ]
    web = (
        WebFindings(url="https://byrnefreight.example/", available=True, text=web_text)
        if web_text
        else WebFindings(url="https://byrnefreight.example/", available=False, error="timed out")
    )
    return ResearchInput(prospect=profile(**overrides), history=history, web=web)


def shipped_route(p: ProspectProfile) -> str:
    """The writer the shipped workspace's routing rules give this prospect."""
    from agents.workspace.routing import rule_route

    writer = rule_route(p, list(shipped_workspace().writers.values())).writer
    assert writer is not None, f"the shipped rules route every prospect; {p} matched none"
    return writer
