"""Router: picks the specialised writer for a prospect from its profile and brief."""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel
from pydantic_ai import Agent

from agents.durable import durable_agent, per_event_loop
from agents.outreach.brief import ProspectBrief, ProspectProfile, Route, WriterType

NAME = "outreach-router"

INSTRUCTIONS = """
Choose the writer for this prospect:
- existing-customer-expansion: the account already bought from us (is_customer is true);
- small-business-owner: a company under 50 employees, usually the owner or a generalist;
- technical-buyer: engineering, data or IT roles who evaluate the product hands-on;
- new-logo-executive: senior business leaders at companies that are not yet customers.
Give one sentence of reason that cites the profile or brief.
"""

TECHNICAL = re.compile(r"\b(engineer|engineering|developer|architect|data|IT|CTO|technical|devops|platform)\b", re.I)
SMALL_BUSINESS_MAX_EMPLOYEES = 50


class RouteInput(BaseModel):
    prospect: ProspectProfile
    brief: ProspectBrief


def rule_route(p: ProspectProfile) -> Route:
    """The deterministic routing rule (the offline model's answer, and the fallback's logic)."""
    if p.is_customer:
        return Route(writer=WriterType.EXISTING_CUSTOMER_EXPANSION, reason=f"{p.company} already owns a product.")
    if p.employees < SMALL_BUSINESS_MAX_EMPLOYEES:
        return Route(writer=WriterType.SMALL_BUSINESS_OWNER, reason=f"{p.company} has {p.employees} employees.")
    if TECHNICAL.search(f"{p.role} {p.department}"):
        return Route(writer=WriterType.TECHNICAL_BUYER, reason=f"{p.role} in {p.department} is a technical role.")
    return Route(
        writer=WriterType.NEW_LOGO_EXECUTIVE,
        reason=f"{p.role} ({p.seniority}) at a {p.employees}-person company that is not yet a customer.",
    )


def compose_offline(payload: dict[str, Any]) -> Route:
    return rule_route(RouteInput.model_validate(payload).prospect)


@per_event_loop
def router(model_spec: str) -> Agent[None, Route]:
    return durable_agent(name=NAME, model=model_spec, output_type=Route, instructions=INSTRUCTIONS)
