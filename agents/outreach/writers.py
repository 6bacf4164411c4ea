"""Writers: one specialised agent per writer type (`writers/<type>.md`), each returning exactly three `EmailVariant`s.

Every writer shares one output type and one validator (facts must come from the brief, angles
must differ, no unfilled placeholders, no claim from the knowledge's never-claim list, and the
output guards of `agents.output_guards`: no foreign links or addresses, no echo of the
instructions, no prompt markers, one P.S. at most); they
differ in the instructions and angles their workspace file gives them. A variant that fails
validation goes back to the model with the reason (`ModelRetry`), and after `output_retries` the
run fails with that reason: no partial email.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic_ai import Agent, ModelRetry, RunContext
from pydantic_ai.models import Model

from agents import offline
from agents.durable import durable_agent, per_event_loop
from agents.output_guards import OutputPolicy, our_domains, output_problems, sender_address, source_hosts
from agents.outreach.brief import AngleIdea, EmailDrafts, EmailVariant, Fact, WriterInput
from agents.prompting import DATA_RULE
from agents.workspace.knowledge import forbidden_claims
from agents.workspace.writers import WriterFile

ROLE = "writer"
NAME = "outreach-writer"
"""The name the writers' prompts are written for (one offline composer for all); each agent is `NAME-<type>`."""

COMMON = """
Write three personalised cold emails (subject, body, angle, facts_used) to the prospect on behalf of
`sender_name` at `seller_company`, who offers `offer`. Each variant takes a different angle (`angles`
are ideas this writer type is known for), none of those in `avoid_angles`. Ground every claim in
the brief and list the ids of the facts used (F1, F2, ...). Plain text, under 150 words, one clear
call to action, no placeholders.
`style_examples` are reviewers' earlier verdicts on drafts like yours: follow how they rewrote drafts
(openings, tone, length) in `final_body`, and avoid what the notes of rejected drafts criticise.
Never make any claim listed in `never_claim`, in any wording. Facts with a `kb:` source are our own
(case studies, proof points): cite them as ours, never as something the prospect said.
"""


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
        for phrase in forbidden_claims(f"{variant.subject}\n{variant.body}", data.never_claim):
            problems.append(f"variant {i} makes a claim we must never make: {phrase!r} (knowledge/never-claim)")
    return problems


def writer_policy(data: WriterInput, instructions: str) -> OutputPolicy:
    """What a writer's drafts may contain (`agents.output_guards`): links to the brief's web sources and our
    own domains, the sender's address and addresses at the prospect's company, nothing of the instructions.

    The writer is never told the recipient's exact address, so the recipient side is their company's domain.
    """
    sources = [f.source for f in data.brief.facts] + [data.brief.web_source.replace("used: ", "web:", 1)]
    return OutputPolicy(
        instructions=f"{instructions}\n{DATA_RULE}",
        data=data.model_dump_json(),
        source_domains=source_hosts(sources),
        allowed_domains=our_domains(),
        allowed_emails=frozenset({sender_address()}),
        allowed_email_domains=frozenset({data.prospect.domain.lower().removeprefix("www.")}),
    )


def guard_drafts(drafts: EmailDrafts, policy: OutputPolicy) -> list[str]:
    """The output guards' problems with each variant's subject and body (the body is a letter: one P.S. at most)."""
    problems: list[str] = []
    for i, variant in enumerate(drafts.variants, start=1):
        problems += [f"variant {i} subject: {p}" for p in output_problems(variant.subject, policy)]
        problems += [f"variant {i} body: {p}" for p in output_problems(variant.body, policy, letter=True)]
    return problems


def _fmt(template: str, data: WriterInput) -> str:
    """An angle's subject or opening with the prospect's fields (the names `agents.workspace.writers` allows)."""
    p = data.prospect
    return template.format(
        company=p.company,
        industry=p.industry,
        employees=p.employees,
        name=p.name,
        first_name=p.name.split()[0],
        role=p.role,
        region=p.region,
    )


def compose_offline(payload: dict[str, Any]) -> EmailDrafts:
    """Three drafts from the writer's angle book and the brief's facts, nothing invented."""
    data = WriterInput.model_validate(payload)
    avoided = {a.lower() for a in data.avoid_angles}
    library = data.angles or [AngleIdea(angle="a short note", subject="A note for {company}", opening="")]
    angles = [a for a in library if a.angle.lower() not in avoided]
    angles = (angles + [a for a in library if a not in angles])[:3]
    while len(angles) < 3:  # a file has at least three angles (`check`); this keeps the composer total
        angles.append(AngleIdea(angle=f"{angles[0].angle} {len(angles) + 1}", subject=angles[0].subject, opening=""))
    ours = [f for f in data.brief.facts if f.source.startswith("kb:")]
    theirs = [f for f in data.brief.facts if not f.source.startswith("kb:")] or data.brief.facts
    first = data.prospect.name.split()[0]
    house_opening = reviewer_opening(data)
    variants = []
    for i, idea in enumerate(angles):
        cited: list[Fact] = [theirs[1 + (i % (len(theirs) - 1))]] if len(theirs) > 1 else [theirs[0]]
        proof = ""
        if ours and i == 1:  # one variant leans on our own knowledge: a case study or proof point
            cited.append(ours[0])
            proof = f" {ours[0].text.rstrip('.')}."
        pain = data.brief.pains[i % len(data.brief.pains)] if data.brief.pains else "slow reporting"
        body = (
            f"Hi {first},\n\n{house_opening or _fmt(idea.opening, data)} {_fact_sentence(cited[0])}\n\n"
            f"{data.seller_company} offers {data.offer}. For a team like yours that usually means less "
            f"time lost to {pain}.{proof}\n\n"
            "Would a 20-minute call next week be useful? Reply with a time that suits you.\n\n"
            f"Best regards,\n{data.sender_name}\n{data.seller_company}\n\n{offline.OFFLINE_MARK}"
        )
        variants.append(
            EmailVariant(
                subject=_fmt(idea.subject, data)[:150], body=body, angle=idea.angle, facts_used=[c.id for c in cited]
            )
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
def writer(file: WriterFile, model_spec: str) -> Agent[WriterInput, EmailDrafts]:
    """One writer agent per event loop, writer file and model."""
    return build_writer(file, model_spec)


def build_writer(file: WriterFile, model: Model | str) -> Agent[WriterInput, EmailDrafts]:
    """The writer agent for one writer type, from its workspace file, with the grounding validator attached."""
    instructions = f"{COMMON}\n{file.instructions}"
    agent = durable_agent(
        name=f"{NAME}-{file.name}",
        model=model,
        output_type=EmailDrafts,
        deps_type=WriterInput,
        instructions=instructions,
        model_settings=file.settings_dict,
        output_retries=file.output_retries,
    )

    @agent.output_validator
    def _grounded(ctx: RunContext[WriterInput], drafts: EmailDrafts) -> EmailDrafts:
        problems = check_drafts(drafts, ctx.deps) + guard_drafts(drafts, writer_policy(ctx.deps, instructions))
        if problems:
            raise ModelRetry("Fix these problems and answer again: " + "; ".join(problems))
        return drafts

    return agent
