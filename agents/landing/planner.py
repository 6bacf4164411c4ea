"""Planner: visitor form + website text + CRM match -> a `MarketingPlan` whose claims cite facts.

Offline, the plan is assembled from the same facts a model would see: the visitor's stated goals,
plain sentences of their website (anything that reads like an order to a model is skipped) and
what the CRM knows about their account. Nothing is invented; what is missing is said in `caveats`.
"""

from __future__ import annotations

from typing import Any

from pydantic_ai import Agent, ModelRetry
from pydantic_ai.models import Model

from agents import offline
from agents.durable import durable_agent, per_event_loop
from agents.landing.plan import ChannelIdea, MarketingPlan, Phase, PlannerInput, check_plan
from agents.outreach.brief import Fact
from agents.outreach.researcher import web_sentences

NAME = "landing-planner"

INSTRUCTIONS = """
You are a B2B marketing strategist. A visitor filled in our landing page form (company, role,
goals, website). From the form, the text of their website and what our CRM knows about their
company, write a marketing plan for how `seller_company` (which offers `offer`) should win and grow
this account:
- `facts`: numbered facts (F1, F2, ...) each with its source: `form`, `web:<url>`,
  `crm:account:<id>` or the history item's `ref`. Only facts present in the data.
- `positioning`: two or three sentences on how the offer answers the visitor's goals.
- `channel_ideas`: exactly three, each a different channel, with the idea, the rationale and the
  ids of the facts it relies on.
- `plan`: the 30, 60 and 90-day phases in that order, each with a focus, 2-5 actions and a metric.
- `caveats`: what you could not use (e.g. the website was unavailable) and why.
"""

# (channel, idea, rationale) keyed by the signal that makes them fit; the offline model picks three.
_PLAYBOOK: dict[str, tuple[str, str, str]] = {
    "customer": (
        "Account expansion",
        "Run a joint review with {company}'s team on how {products} is used today and where it could go next.",
        "{company} already owns {products}; growing an account is cheaper than winning a new one.",
    ),
    "history": (
        "Sales follow-up",
        "Have the account owner follow up on the latest CRM conversation ('{last}') with the visitor's goals in hand.",
        "The CRM shows an existing relationship; a warm follow-up beats a cold campaign.",
    ),
    "webinar": (
        "Webinar",
        "Invite {company} to a 30-minute session on {goal_short} with a {industry} peer as guest.",
        "The visitor's goals centre on {goal_short}; a practical session shows the offer against that goal.",
    ),
    "content": (
        "Content and SEO",
        "Publish a short guide on {goal_short} for {industry} teams and send it to the visitor first.",
        "Useful content on the stated goal earns attention from {role}s researching the topic.",
    ),
    "abm": (
        "Account-based email",
        "A three-email sequence to {role}s at {company} built around the goal they stated.",
        "The visitor named a concrete goal and role; a targeted sequence speaks to exactly that.",
    ),
    "partner": (
        "Partner co-marketing",
        "Co-host a case study with a partner serving {industry} companies like {company}.",
        "What their website says places them among {industry} companies that trust peer proof.",
    ),
}


def _goal_short(goals: str) -> str:
    first = goals.split(".")[0].strip().rstrip("!?")
    return (first[:80].rsplit(" ", 1)[0] if len(first) > 80 else first).lower() or "their goals"


def _facts(data: PlannerInput) -> list[Fact]:
    facts: list[Fact] = []

    def add(text: str, source: str) -> None:
        facts.append(Fact(id=f"F{len(facts) + 1}", text=text[:300], source=source))

    v = data.visitor
    add(f"{v.role} at {v.company} says their goals are: {v.goals}", "form")
    if data.web.available:
        for sentence in web_sentences(data.web.text, limit=3):
            add(f"Their website says: {sentence}", f"web:{data.web.url}")
    if data.crm is not None:
        c = data.crm
        status = f"a customer owning {', '.join(c.products_owned)}" if c.is_customer else "not yet a customer"
        add(
            f"{c.name} is a {c.employees}-person {c.industry} company in {c.region}, {status}, "
            f"with {c.open_deals} open deals.",
            f"crm:account:{c.account_id}",
        )
        for item in c.history[:2]:
            add(f"{item.when:%d %b %Y} {item.kind}: {item.subject}", item.ref)
    return facts


def compose_offline(payload: dict[str, Any]) -> MarketingPlan:
    """The plan the offline model writes: the playbook entries that the facts support, nothing more."""
    data = PlannerInput.model_validate(payload)
    v, crm = data.visitor, data.crm
    facts = _facts(data)
    form = facts[0].id
    web_ids = [f.id for f in facts if f.source.startswith("web:")]
    crm_ids = [f.id for f in facts if f.source.startswith("crm:")]
    picks: list[tuple[str, list[str]]] = []
    if crm and crm.is_customer:
        picks.append(("customer", crm_ids[:1]))
    if crm and crm.history:
        picks.append(("history", crm_ids[1:2] or crm_ids[:1]))
    picks.append(("webinar", [form]))
    if web_ids:
        picks.append(("partner", web_ids[:1]))
    picks += [("abm", [form]), ("content", [form])]
    values = {
        "company": v.company,
        "role": v.role,
        "goal_short": _goal_short(v.goals),
        "industry": crm.industry if crm else "similar",
        "products": ", ".join(crm.products_owned) if crm and crm.products_owned else "our platform",
        "last": crm.history[0].subject if crm and crm.history else "",
    }
    ideas = [
        ChannelIdea(
            channel=_PLAYBOOK[key][0],
            idea=_PLAYBOOK[key][1].format(**values),
            rationale=_PLAYBOOK[key][2].format(**values),
            facts_used=cited,
        )
        for key, cited in picks[:3]
    ]
    relation = (
        f"As a customer already using {values['products']}, {v.company} can extend it"
        if crm and crm.is_customer
        else f"{v.company} can start small"
    )
    positioning = (
        f"{data.seller_company} offers {data.offer}. For {v.company}, whose {v.role} wants "
        f"{values['goal_short']}, that means reaching that goal with numbers they trust. {relation}."
    )
    plan = [
        Phase(
            days=30,
            focus=f"Understand {values['goal_short']} at {v.company}",
            actions=[f"Discovery call with the {v.role}", f"Launch: {ideas[0].channel.lower()}"],
            success_metric="Discovery call held and one agreed success measure",
        ),
        Phase(
            days=60,
            focus="Show value on one concrete use case",
            actions=[f"Run: {ideas[1].channel.lower()}", "Pilot on one team's real data"],
            success_metric="Pilot live with weekly active users",
        ),
        Phase(
            days=90,
            focus="Turn the pilot into a plan",
            actions=[f"Run: {ideas[2].channel.lower()}", "Review pilot results with the sponsor", "Propose rollout"],
            success_metric="Rollout proposal accepted or a clear no",
        ),
    ]
    caveats = [offline.OFFLINE_MARK]
    if not data.web.available:
        caveats.append(f"Website not used: {data.web.error}")
    if crm is None:
        caveats.append("Not from a known CRM contact: the plan uses the form and the website only.")
    return MarketingPlan(
        company=v.company, positioning=positioning, facts=facts, channel_ideas=ideas, plan=plan, caveats=caveats
    )


@per_event_loop
def planner(model: Model | str) -> Agent[None, MarketingPlan]:
    agent = durable_agent(name=NAME, model=model, output_type=MarketingPlan, instructions=INSTRUCTIONS)

    @agent.output_validator
    def _grounded(plan: MarketingPlan) -> MarketingPlan:
        problems = check_plan(plan)
        if problems:
            raise ModelRetry("Fix these problems and answer again: " + "; ".join(problems))
        return plan

    return agent
