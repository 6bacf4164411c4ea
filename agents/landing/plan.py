"""Typed inputs and output of the landing-page planner.

`Visitor` is both the landing page's webhook payload and the `landing-plan` flow's parameter, so
what the receiver validates is exactly what the flow gets. Every claim in a plan cites numbered
facts (`form`, `web:<url>`, `crm:account:<id>`, `crm:activity:<id>`, and `kb:<file>#<section>` for
the seller's own knowledge from the workspace), as outreach briefs do.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from agents.outreach.brief import Fact, HistoryItem, WebFindings
from agents.workspace.knowledge import Knowledge

EMAIL_PATTERN = r"^[^@\s<>]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$"
WEBSITE_PATTERN = r"^https?://[A-Za-z0-9.-]+(:\d+)?(/\S*)?$"


class Visitor(BaseModel):
    """What a visitor typed into the landing page form. Extra fields are ignored."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    company: str = Field(min_length=1, max_length=200)
    role: str = Field(min_length=1, max_length=150)
    email: str = Field(max_length=254, pattern=EMAIL_PATTERN)
    website: str = Field(max_length=400, pattern=WEBSITE_PATTERN)
    goals: str = Field(min_length=1, max_length=2000)

    @property
    def email_domain(self) -> str:
        return self.email.rsplit("@", 1)[1].lower()


class CrmMatch(BaseModel):
    """The CRM account whose domain matches the visitor's email domain."""

    account_id: int
    name: str
    domain: str
    industry: str
    employees: int
    region: str
    is_customer: bool
    products_owned: list[str] = Field(default_factory=list)
    open_deals: int = 0
    history: list[HistoryItem] = Field(default_factory=list, description="Newest activities first")


class KnowledgeFact(BaseModel):
    """One section of the seller's knowledge (workspace `knowledge/*.md`) relevant to this visitor."""

    source: str = Field(description="kb:<file>#<section>: cite it as a fact's source")
    title: str
    text: str


class PlannerInput(BaseModel):
    visitor: Visitor
    web: WebFindings
    crm: CrmMatch | None
    seller_company: str
    offer: str
    knowledge: list[KnowledgeFact] = Field(
        default_factory=list, description="What we know about ourselves that fits this visitor (case studies, proof)"
    )
    never_claim: list[str] = Field(
        default_factory=list, description="Claims we must never make: no plan may contain these phrases"
    )


class ChannelIdea(BaseModel):
    channel: str = Field(min_length=3, max_length=80, description="Channel name, e.g. 'Webinar', 'Partner'")
    idea: str = Field(min_length=10, max_length=600, description="What to do in this channel")
    rationale: str = Field(min_length=10, max_length=600, description="Why it fits this visitor, citing facts")
    facts_used: list[str] = Field(min_length=1, description="Ids of the facts this idea relies on")


class Phase(BaseModel):
    days: Literal[30, 60, 90]
    focus: str = Field(min_length=3, max_length=200)
    actions: list[str] = Field(min_length=2, max_length=5)
    success_metric: str = Field(min_length=3, max_length=200)


class MarketingPlan(BaseModel):
    """A grounded go-to-market plan for one visitor's company."""

    company: str
    positioning: str = Field(min_length=20, max_length=800, description="Two or three sentences")
    facts: list[Fact] = Field(min_length=1, description="Numbered facts with their source")
    channel_ideas: list[ChannelIdea] = Field(min_length=3, max_length=3)
    plan: list[Phase] = Field(min_length=3, max_length=3, description="The 30, 60 and 90-day phases, in order")
    caveats: list[str] = Field(default_factory=list, description="What the plan could not use, and why")


def our_words(plan: MarketingPlan) -> str:
    """Everything in `plan` that we say, as opposed to what it quotes from the form, the site or the CRM.

    The never-claim check reads this: a visitor writing "we want a risk-free pilot" is quoted in a
    fact, and that is not our claim; a `kb:` fact is our own knowledge speaking, so it counts.
    """
    parts = [plan.positioning, *plan.caveats]
    parts += [f.text for f in plan.facts if f.source.startswith("kb:")]
    parts += [t for c in plan.channel_ideas for t in (c.channel, c.idea, c.rationale)]
    parts += [t for p in plan.plan for t in (p.focus, *p.actions, p.success_metric)]
    return "\n".join(parts)


def check_plan(plan: MarketingPlan, knowledge: Knowledge | None = None) -> list[str]:
    """Problems that make a plan unusable; empty when it may be returned to the visitor.

    With the run's `knowledge`: every `kb:` source must be a section of it (a model may not invent
    a case study), and the plan must not say any of its never-claim phrases.
    """
    problems: list[str] = []
    ids = {f.id for f in plan.facts}
    if [p.days for p in plan.plan] != [30, 60, 90]:
        problems.append(f"plan phases must be 30, 60, 90 in order, got {[p.days for p in plan.plan]}")
    channels = [c.channel.strip().lower() for c in plan.channel_ideas]
    if len(set(channels)) != len(channels):
        problems.append(f"the three channel ideas must use different channels, got {channels}")
    for i, idea in enumerate(plan.channel_ideas, start=1):
        unknown = sorted(set(idea.facts_used) - ids)
        if unknown:
            problems.append(f"channel idea {i} cites facts not in `facts`: {unknown} (known: {sorted(ids)})")
    if knowledge is not None:
        for fact in plan.facts:
            if fact.source.startswith("kb:") and fact.source not in knowledge.sources:
                problems.append(
                    f"fact {fact.id} cites {fact.source}, which is not a section of our knowledge; "
                    "use only the `kb:` sources given in `knowledge`"
                )
        for phrase in knowledge.forbidden_in(our_words(plan)):
            problems.append(
                f"the plan says {phrase!r}, a claim we must never make; remove the claim, and do not make it "
                "in other words"
            )
    return problems
