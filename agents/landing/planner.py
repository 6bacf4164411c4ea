"""Planner: visitor form + website text + CRM match + our knowledge -> a `MarketingPlan` whose claims cite facts.

What the planner is told, its model and settings come from the run's workspace
(`agents/landing-planner.yaml`); the shape of its answer is fixed here. It also gets the seller's
knowledge sections relevant to the visitor (`kb:` facts, e.g. a case study from the same industry)
and the claims we must never make; the validator refuses a plan that cites a `kb:` source the
knowledge does not have, or says a never-claim phrase, back to the model with the reason, and so do
the output guards (`agents.output_guards`): a plan carrying a foreign link or address, prompt markers
or the planner's own instructions never reaches the visitor.

Offline, the plan is assembled from the same facts a model would see: the visitor's stated goals,
plain sentences of their website (anything that reads like an order to a model is skipped), what
the CRM knows about their account, and our knowledge (a matching case study becomes a channel
idea). Nothing is invented; what is missing is said in `caveats`.
"""

from __future__ import annotations

from typing import Any

from pydantic_ai import Agent, ModelRetry, RunContext
from pydantic_ai.models import Model

from agents import offline
from agents.durable import durable_agent, per_event_loop
from agents.landing.plan import (
    ChannelIdea,
    CrmMatch,
    KnowledgeFact,
    MarketingPlan,
    Phase,
    PlannerInput,
    Visitor,
    check_plan,
    our_words,
)
from agents.output_guards import OutputPolicy, echo_problems, host_of, our_domains, output_problems, sender_address
from agents.outreach.brief import Fact, WebFindings
from agents.outreach.researcher import web_sentences
from agents.prompting import DATA_RULE, parse_prompt
from agents.workspace.agent_files import AgentFile
from agents.workspace.knowledge import Knowledge

NAME = "landing-planner"
KNOWLEDGE_SECTIONS = 3
"""How many knowledge sections a plan gets: enough for a case study and a proof point, not the whole base."""


def knowledge_query(visitor: Visitor, crm: CrmMatch | None) -> str:
    """What the visitor's knowledge sections are ranked against: who they are and what they want."""
    return " ".join([visitor.company, crm.industry if crm else "", visitor.role, visitor.goals])


def planner_input(
    visitor: Visitor,
    web: WebFindings,
    crm: CrmMatch | None,
    knowledge: Knowledge,
    *,
    seller_company: str | None = None,
    offer: str | None = None,
) -> PlannerInput:
    """The planner's data: the visitor, their site and CRM match, and our knowledge that fits them.

    `seller_company`/`offer` override the workspace knowledge's (the operator's settings, when set).
    """
    sections = knowledge.relevant(knowledge_query(visitor, crm), KNOWLEDGE_SECTIONS)
    return PlannerInput(
        visitor=visitor,
        web=web,
        crm=crm,
        seller_company=seller_company or knowledge.company,
        offer=offer or knowledge.offer,
        knowledge=[KnowledgeFact(source=s.source, title=s.title, text=s.text) for s in sections],
        never_claim=list(knowledge.never_claim),
    )


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
    "case": (
        "Case study",
        "Send the {role} at {company} our case study '{case_title}' and offer a call with the team behind it.",
        "A company with a problem like {company}'s shows what the offer changed: {case_title}.",
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


def _says(text: str, phrases: list[str]) -> bool:
    """Whether `text` contains one of the never-claim `phrases` (case and spacing ignored, as the validator)."""
    flat = " ".join(text.lower().split())
    return any(" ".join(p.lower().split()) in flat for p in phrases)


def _is_case_study(fact: KnowledgeFact) -> bool:
    return "case" in fact.source.removeprefix("kb:").split("#", 1)[0]


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
    for k in data.knowledge:
        if not _says(f"{k.title} {k.text}", data.never_claim):  # our own words: they must pass the validator
            add(f"{k.title}: {k.text}", k.source)
    return facts


def compose_offline(payload: dict[str, Any]) -> MarketingPlan:
    """The plan the offline model writes: the playbook entries that the facts support, nothing more."""
    data = PlannerInput.model_validate(payload)
    v, crm = data.visitor, data.crm
    facts = _facts(data)
    form = facts[0].id
    web_ids = [f.id for f in facts if f.source.startswith("web:")]
    crm_ids = [f.id for f in facts if f.source.startswith("crm:")]
    cited_sources = {f.source: f.id for f in facts}
    case = next((k for k in data.knowledge if _is_case_study(k) and k.source in cited_sources), None)
    picks: list[tuple[str, list[str]]] = []
    if crm and crm.is_customer:
        picks.append(("customer", crm_ids[:1]))
    if case is not None:  # the most relevant case study: proof from a peer beats any channel we could invent
        picks.append(("case", [cited_sources[case.source], form]))
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
        "case_title": case.title[:150] if case else "",
    }
    # The visitor's own words are echoed into the plan; one saying "risk-free" must not make us claim it.
    neutral = {"company": "their company", "role": "contact", "goal_short": "their stated goals"}
    values = {key: neutral.get(key, "") if _says(value, data.never_claim) else value for key, value in values.items()}
    ideas = [
        ChannelIdea(
            channel=_PLAYBOOK[key][0],
            idea=_PLAYBOOK[key][1].format(**values),
            rationale=_PLAYBOOK[key][2].format(**values),
            facts_used=cited,
        )
        for key, cited in picks[:3]
    ]
    company, role = values["company"], values["role"]
    relation = (
        f"As a customer already using {values['products']}, {company} can extend it"
        if crm and crm.is_customer
        else f"{company} can start small"
    )
    positioning = (
        f"{data.seller_company} offers {data.offer}. For {company}, whose {role} wants "
        f"{values['goal_short']}, that means reaching that goal with numbers they trust. {relation}."
    )
    plan = [
        Phase(
            days=30,
            focus=f"Understand {values['goal_short']} at {company}",
            actions=[f"Discovery call with the {role}", f"Launch: {ideas[0].channel.lower()}"],
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
        # Only the kind of failure ("refused", "deadline", "HTTP 404"): the full reason can name internal hosts and
        # addresses a redirect pointed at, which an anonymous visitor must not learn (it stays in the run's logs).
        caveats.append(f"Website not used: {(data.web.error or 'unavailable').split(':', 1)[0]}")
    if crm is None:
        caveats.append("Not from a known CRM contact: the plan uses the form, the website and our own knowledge only.")
    return MarketingPlan(
        company=v.company, positioning=positioning, facts=facts, channel_ideas=ideas, plan=plan, caveats=caveats
    )


def planner_policy(data: PlannerInput, instructions: str, data_text: str = "") -> OutputPolicy:
    """What a plan may contain (`agents.output_guards`): links to the visitor's website (when it was read) and
    our own domains, the visitor's and the sender's addresses, nothing of the instructions.

    The plan goes back to the visitor who filled in the form: what they typed (a link, an address, even a
    fake `</data>`) shown back to them carries nothing out, so it is not refused; the echo guard still is.
    """
    sites = {data.web.url} if data.web.available else set()
    v = data.visitor
    return OutputPolicy(
        instructions=f"{instructions}\n{DATA_RULE}",
        data=data_text or data.model_dump_json(),
        source_domains=frozenset(h for h in map(host_of, sites) if h),
        allowed_domains=our_domains(),
        allowed_emails=frozenset({sender_address(), data.visitor.email.lower()}),
        reader_wrote="\n".join([v.company, v.role, v.email, v.website, v.goals]),
    )


def guard_plan(plan: MarketingPlan, policy: OutputPolicy) -> list[str]:
    """The output guards' problems with a plan an anonymous visitor will read.

    Links, addresses and prompt markers are checked in what we say (`our_words`): a fact quoting the
    visitor's own form or website may show what they wrote. No text at all may echo the instructions.
    """
    problems = [f"the plan: {p}" for p in output_problems(our_words(plan), policy)]
    quoted = "\n".join(f.text for f in plan.facts if not f.source.startswith("kb:"))
    problems += [f"a fact: {p}" for p in echo_problems(quoted, policy)]
    return problems


def input_of(prompt: str | None) -> tuple[PlannerInput, str] | None:
    """The planner input in a run's prompt (its data section) and that section's text; None if it has none."""
    try:
        _agent, _kind, payload = parse_prompt(prompt or "")
    except ValueError:
        return None
    return PlannerInput.model_validate(payload), str(payload)


@per_event_loop
def planner(file: AgentFile, model: Model | str) -> Agent[Knowledge, MarketingPlan]:
    """The planner as the workspace's `agents/landing-planner.yaml` configures it, on `model`.

    Cached per event loop, file and model (an `AgentFile` is hashable and carries its version), so a
    workspace change builds a new agent and runs in flight keep theirs. Run it with the run's
    `Knowledge` as deps: the validator checks `kb:` citations and never-claim phrases against it.
    """
    agent = durable_agent(
        name=NAME,
        model=model,
        output_type=MarketingPlan,
        instructions=file.instructions,
        deps_type=Knowledge,
        model_settings=file.settings_dict,
        output_retries=file.output_retries,
    )

    @agent.output_validator
    def _grounded(ctx: RunContext[Knowledge], plan: MarketingPlan) -> MarketingPlan:
        problems = check_plan(plan, ctx.deps)
        read = input_of(ctx.prompt if isinstance(ctx.prompt, str) else None)
        if read is None:  # every planner prompt is `render_prompt`'s; without one there is nothing to check against
            problems.append("the request had no data section; answer the planner prompt")
        else:
            problems += guard_plan(plan, planner_policy(read[0], file.instructions, read[1]))
        if problems:
            raise ModelRetry("Fix these problems and answer again: " + "; ".join(problems))
        return plan

    return agent
