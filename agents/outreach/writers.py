"""Writers: one specialised agent per prospect type, each returning exactly three `EmailVariant`s.

The four writers share one output type and one validator (facts must come from the brief, angles
must differ, no unfilled placeholders); they differ in instructions and, offline, in the angles
they know. A variant that fails validation goes back to the model with the reason
(`ModelRetry`), and after `output_retries` the run fails with that reason: no partial email.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from pydantic_ai import Agent, ModelRetry, RunContext
from pydantic_ai.models import Model

from agents import offline
from agents.durable import durable_agent, per_event_loop
from agents.outreach.brief import EmailDrafts, EmailVariant, Fact, WriterInput, WriterType

NAME = "outreach-writer"
"""The name the writers' prompts are written for (one offline composer for all); each agent is `NAME-<type>`."""

COMMON = """
Write three personalised cold emails (subject, body, angle, facts_used) to the prospect on behalf of
`sender_name` at `seller_company`, who offers `offer`. Each variant takes a different angle, none
of those in `avoid_angles`. Ground every claim in the brief and list the ids of the facts used
(F1, F2, ...). Plain text, under 150 words, one clear call to action, no placeholders.
`style_examples` are reviewers' earlier verdicts on drafts like yours: follow how they rewrote drafts
(openings, tone, length) in `final_body`, and avoid what the notes of rejected drafts criticise.
"""


@dataclass(frozen=True)
class WriterSpec:
    writer: WriterType
    focus: str
    angles: tuple[tuple[str, str, str], ...]  # (angle, subject, opening line)


SPECS = {
    WriterType.NEW_LOGO_EXECUTIVE: WriterSpec(
        WriterType.NEW_LOGO_EXECUTIVE,
        "Senior business leader at a company that is not yet a customer: lead with outcomes, keep it short.",
        (
            (
                "business outcome",
                "{company}: decisions a week earlier",
                "Leaders like you tell us the hard part is acting in time.",
            ),
            (
                "peer proof",
                "How {industry} teams cut reporting time",
                "Other {industry} companies faced the same question.",
            ),
            ("cost of delay", "What late numbers cost {company}", "Every week a number arrives late has a price."),
            ("strategic priority", "A thought on {company}'s priorities", "I read up on {company} before writing."),
            ("quick win", "One quick win for {company}", "There is usually one report that is worth automating first."),
        ),
    ),
    WriterType.TECHNICAL_BUYER: WriterSpec(
        WriterType.TECHNICAL_BUYER,
        "Engineer, data or IT buyer: be concrete about integration, effort and reliability; no hype.",
        (
            (
                "integration fit",
                "Fitting into {company}'s stack",
                "You will want to know how this plugs into what you run today.",
            ),
            (
                "hands-on trial",
                "A sandbox for your team at {company}",
                "The fastest way to judge a tool is to try it on real data.",
            ),
            (
                "data reliability",
                "Pipelines that tell you when they break",
                "Broken pipelines are usually found by the people reading the dashboard.",
            ),
            (
                "architecture simplicity",
                "Fewer moving parts for {company}",
                "Most analytics stacks grow one tool at a time.",
            ),
            ("time saved for engineers", "Fewer ad-hoc data requests", "Ad-hoc data requests eat engineering weeks."),
        ),
    ),
    WriterType.EXISTING_CUSTOMER_EXPANSION: WriterSpec(
        WriterType.EXISTING_CUSTOMER_EXPANSION,
        "Existing customer: build on what they own and what happened in the account; propose the next step.",
        (
            ("more teams", "Bringing more {company} teams on board", "Thank you for working with us."),
            (
                "usage insight",
                "What your usage tells us",
                "Looking at how {company} works with us today, one pattern stands out.",
            ),
            (
                "new capability",
                "Something new for {company}",
                "Since you started with us we have shipped things you asked for.",
            ),
            (
                "executive review",
                "A short review with your leadership",
                "A year in is a good moment to look back together.",
            ),
            ("renewal value", "Getting more from your plan", "You may be paying for more than you use."),
        ),
    ),
    WriterType.SMALL_BUSINESS_OWNER: WriterSpec(
        WriterType.SMALL_BUSINESS_OWNER,
        "Owner or generalist at a small company: plain words, time and money saved, an easy first step.",
        (
            (
                "time back",
                "Your numbers without the spreadsheet evenings",
                "Running a business leaves little time for spreadsheets.",
            ),
            ("simple start", "Start in an afternoon", "Small teams cannot spend months on a new tool."),
            ("owner's numbers", "The five numbers that matter to {company}", "Most owners watch a handful of numbers."),
            (
                "low cost",
                "Priced for a {employees}-person team",
                "Tools priced for enterprises rarely fit a small team.",
            ),
            (
                "local peers",
                "What businesses like {company} track",
                "Businesses like yours tend to ask the same first questions.",
            ),
        ),
    ),
}

_PLACEHOLDER = re.compile(r"\{\w+\}|\[(first name|name|company|your name)\]|<[A-Z_ ]+>", re.I)


def check_drafts(drafts: EmailDrafts, data: WriterInput) -> list[str]:
    """Problems that make a set of drafts unusable; empty when they may be shown to a reviewer."""
    problems: list[str] = []
    fact_ids = {f.id for f in data.brief.facts}
    angles = [v.angle.strip().lower() for v in drafts.variants]
    if len(set(angles)) != len(angles):
        problems.append(f"the three variants must have different angles, got {angles}")
    avoided = {a.lower() for a in data.avoid_angles}
    for i, variant in enumerate(drafts.variants, start=1):
        unknown = sorted(set(variant.facts_used) - fact_ids)
        if unknown:
            problems.append(f"variant {i} cites facts not in the brief: {unknown} (known: {sorted(fact_ids)})")
        if variant.angle.strip().lower() in avoided:
            problems.append(f"variant {i} repeats the angle {variant.angle!r} already used on this account")
        if not variant.subject.isprintable():  # a line break would smuggle headers (Bcc:) into the email
            problems.append(f"variant {i} subject must be one printable line, got {variant.subject!r}")
        for field, text in (("subject", variant.subject), ("body", variant.body)):
            if match := _PLACEHOLDER.search(text):
                problems.append(f"variant {i} {field} has an unfilled placeholder {match.group(0)!r}")
    return problems


def _fmt(template: str, data: WriterInput) -> str:
    p = data.prospect
    return template.format(company=p.company, industry=p.industry, employees=p.employees)


def compose_offline(payload: dict[str, Any]) -> EmailDrafts:
    """Three drafts from the writer's angle book and the brief's facts, nothing invented."""
    data = WriterInput.model_validate(payload)
    spec = SPECS[data.writer]
    avoided = {a.lower() for a in data.avoid_angles}
    angles = [a for a in spec.angles if a[0] not in avoided]
    angles = (angles + [a for a in spec.angles if a not in angles])[:3]
    facts = data.brief.facts
    first = data.prospect.name.split()[0]
    house_opening = reviewer_opening(data)
    variants = []
    for i, (angle, subject, opening) in enumerate(angles):
        cited: list[Fact] = [facts[1 + (i % (len(facts) - 1))]] if len(facts) > 1 else [facts[0]]
        pain = data.brief.pains[i % len(data.brief.pains)] if data.brief.pains else "slow reporting"
        body = (
            f"Hi {first},\n\n{house_opening or _fmt(opening, data)} {_fact_sentence(cited[0])}\n\n"
            f"{data.seller_company} offers {data.offer}. For a team like yours that usually means less "
            f"time lost to {pain}.\n\n"
            "Would a 20-minute call next week be useful? Reply with a time that suits you.\n\n"
            f"Best regards,\n{data.sender_name}\n{data.seller_company}\n\n{offline.OFFLINE_MARK}"
        )
        variants.append(
            EmailVariant(subject=_fmt(subject, data)[:150], body=body, angle=angle, facts_used=[c.id for c in cited])
        )
    return EmailDrafts(variants=variants)


def _paragraphs(body: str) -> list[str]:
    return [p.strip() for p in re.split(r"\n\s*\n", body.replace("\r\n", "\n")) if p.strip()]


def reviewer_opening(data: WriterInput) -> str | None:
    """The opening sentence a reviewer wrote in place of ours, from the most relevant edited example.

    The offline writer follows reviewers the simplest faithful way: it opens the way they opened.
    """
    for example in data.style_examples:
        if example.kind != "edited":
            continue
        final, drafted = _paragraphs(example.final_body), _paragraphs(example.drafted_body)
        final_opening = final[1] if len(final) > 1 and final[0].lower().startswith(("hi", "hello", "dear")) else None
        drafted_opening = drafted[1] if len(drafted) > 1 else None
        if final_opening and final_opening != drafted_opening:
            return re.split(r"(?<=[.!?])\s", final_opening, maxsplit=1)[0]
    return None


def _fact_sentence(fact: Fact) -> str:
    return f"One thing I noted: {fact.text.rstrip('.')}."


@per_event_loop
def writer(writer_type: WriterType, model_spec: str) -> Agent[WriterInput, EmailDrafts]:
    return build_writer(writer_type, model_spec)


def build_writer(writer_type: WriterType, model: Model | str) -> Agent[WriterInput, EmailDrafts]:
    """The writer agent for one prospect type, with the grounding validator attached."""
    spec = SPECS[writer_type]
    agent = durable_agent(
        name=f"{NAME}-{writer_type.value}",
        model=model,
        output_type=EmailDrafts,
        deps_type=WriterInput,
        instructions=f"{COMMON}\nYour reader: {spec.focus}",
    )

    @agent.output_validator
    def _grounded(ctx: RunContext[WriterInput], drafts: EmailDrafts) -> EmailDrafts:
        problems = check_drafts(drafts, ctx.deps)
        if problems:
            raise ModelRetry("Fix these problems and answer again: " + "; ".join(problems))
        return drafts

    return agent
