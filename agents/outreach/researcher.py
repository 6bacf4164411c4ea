"""Researcher: CRM history + website text -> a `ProspectBrief` whose every fact carries its source."""

from __future__ import annotations

import re
from typing import Any

from pydantic_ai import Agent, ModelRetry, RunContext
from pydantic_ai.models import Model

from agents import offline
from agents.durable import durable_agent, per_event_loop
from agents.outreach.brief import Fact, ProspectBrief, ResearchInput
from agents.workspace.agent_files import AgentFile

NAME = "outreach-researcher"
ROLE = "researcher"
KNOWLEDGE_RULE = """
`knowledge` holds our own company's facts (case studies, proof points, the offer). Copy the ones that
fit this prospect into `facts` word for word, with their `kb:` source; never invent a `kb:` source.
"""
"""Appended to the file's instructions: the contract the validator below enforces, so it stays in code."""

# Sentences from a web page that look like orders to a model rather than facts about a company.
_SUSPICIOUS = re.compile(
    r"(ignore|disregard|instruction|system prompt|assistant|you must|send (this|it|the)|@|https?://|<|>)",
    re.I,
)
_PAINS_BY_INDUSTRY = {
    "Retail": "inventory and demand planning across stores",
    "Logistics": "late shipments and route costs that are hard to see in time",
    "Healthcare": "reporting that takes clinicians away from patients",
    "Financial Services": "month-end reporting that ties up analysts for days",
    "Manufacturing": "unplanned downtime and scrap that surface too late",
    "Software": "product usage data scattered across tools",
    "Education": "enrolment and retention figures assembled by hand",
    "Hospitality": "occupancy and staffing decisions made on stale numbers",
    "Energy": "asset performance data that arrives after the fact",
    "Media": "audience data split across platforms",
}


def web_sentences(text: str, limit: int = 2) -> list[str]:
    """Plain descriptive sentences from page text, skipping anything that reads like an order."""
    picked: list[str] = []
    for sentence in re.split(r"(?<=[.!?])\s+", text):
        sentence = " ".join(sentence.split())
        if 25 <= len(sentence) <= 220 and not _SUSPICIOUS.search(sentence):
            picked.append(sentence)
        if len(picked) == limit:
            break
    return picked


def compose_offline(payload: dict[str, Any]) -> ProspectBrief:
    """The brief the offline model writes: only facts present in the research input."""
    data = ResearchInput.model_validate(payload)
    p = data.prospect
    facts: list[Fact] = []

    def add(text: str, source: str) -> None:
        facts.append(Fact(id=f"F{len(facts) + 1}", text=text, source=source))

    add(
        f"{p.name} is {p.role} ({p.seniority}, {p.department}) at {p.company}, "
        f"a {p.employees}-person {p.industry} company in {p.region}.",
        f"crm:contact:{p.contact_id}",
    )
    for item in data.history:
        if item.kind.startswith("deal"):
            stage = {"deal won": "Won", "deal lost": "Lost", "deal open": "Open"}.get(item.kind, item.kind)
            add(f"{stage} {item.subject} ({item.when:%B %Y}).", item.ref)
    notes = [h for h in data.history if not h.kind.startswith("deal")][:4]
    for item in notes:
        detail = f": {item.text}" if item.text else ""
        add(f"{item.when:%d %b %Y} {item.kind} - {item.subject}{detail}"[:240], item.ref)
    if data.web.available:
        for sentence in web_sentences(data.web.text):
            add(f"Their website says: {sentence}", f"web:{data.web.url}")
    for item in data.knowledge:
        add(" ".join(item.text.split())[:400], item.source)
    pains = [_PAINS_BY_INDUSTRY.get(p.industry, "decisions made on numbers that arrive too late")]
    if p.is_customer:
        pains.append(f"getting more teams value from {', '.join(p.products_owned) or 'what they already use'}")
    status = "an existing customer" if p.is_customer else "not yet a customer"
    web_source = f"used: {data.web.url}" if data.web.available else f"unavailable: {data.web.error}"
    summary = (
        f"{offline.OFFLINE_MARK} {p.name} ({p.role}) at {p.company}, {status}; "
        f"{len(data.history)} CRM history items; website {'read' if data.web.available else 'not read'}."
    )
    prior = [
        f"{o.when:%Y-%m-%d}: {o.outcome} to {o.contact}, angle {', '.join(o.angles) or 'unknown'}"
        + (f' ("{o.subject}")' if o.subject else "")
        + (f"; reviewer's note: {o.note}" if o.note else "")
        for o in data.prior_outreach
    ]
    return ProspectBrief(summary=summary, facts=facts, pains=pains, web_source=web_source, prior_outreach=prior)


def build_researcher(file: AgentFile, model: Model | str) -> Agent[tuple[str, ...], ProspectBrief]:
    """The researcher as the workspace file describes it; its `kb:` facts must be sections it was given (deps)."""
    agent: Agent[tuple[str, ...], ProspectBrief] = durable_agent(
        name=NAME,
        model=model,
        output_type=ProspectBrief,
        instructions=f"{file.instructions}\n{KNOWLEDGE_RULE}",
        deps_type=tuple,
        model_settings=file.settings_dict,
        output_retries=file.output_retries,
    )

    @agent.output_validator
    def _known_sources(ctx: RunContext[tuple[str, ...]], brief: ProspectBrief) -> ProspectBrief:
        invented = sorted({f.source for f in brief.facts if f.source.startswith("kb:")} - set(ctx.deps))
        if invented:
            raise ModelRetry(f"facts cite knowledge that was not given: {invented}; use only {sorted(ctx.deps)}")
        return brief

    return agent


@per_event_loop
def researcher(file: AgentFile, model_spec: str) -> Agent[tuple[str, ...], ProspectBrief]:
    """One agent per event loop, file and model (`configured_model(ROLE, file.model)` gives the spec)."""
    return build_researcher(file, model_spec)
