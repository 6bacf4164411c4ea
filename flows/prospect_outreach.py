"""Prospect outreach: CRM history + website -> brief -> writer -> three drafts -> a rep approves -> sent once.

Run it: `agentflows run prospect-outreach --prospects 1,2,3` (or `make demo`). Drafting happens in
the batch run, every generation and tool call a Prefect task, prospects concurrently; each
prospect's drafts then get their own `outreach-approval` run, paused with an approval form, so
reps approve in any order from the Prefect UI ("Resume" on the run page) or `agentflows approve`.

The story:
  1. take the run's workspace snapshot (writers, routing, knowledge, agents' instructions; an invalid
     edit is refused and the last valid version used), then load every prospect's CRM profile and
     account history in one set-wise task (unknown ids stop here)
  2. per prospect: fetch the website (a dead site is noted, not fatal); the researcher writes a brief
     of sourced facts, our own knowledge (`kb:`) among them; the workspace's routing rules pick a
     writer (the router model only where they cannot); the writer drafts three variants; they are
     stored with the workspace version that produced them
  3. per prospect, an approval run shows the drafts as a markdown artifact and pauses with the form
  4. approved: decision, CRM activity and outbox row in one transaction, then one SMTP send;
     rejected or timed out: the outcome is logged, nothing is sent
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Literal
from weakref import WeakKeyDictionary

from prefect import flow, get_run_logger
from prefect.artifacts import acreate_markdown_artifact, acreate_table_artifact
from prefect.runtime import flow_run as current_flow_run
from pydantic import BaseModel

from agentflows.forms import APPROVAL_PAUSE, OutreachApproval, pause_key
from agentflows.heap import freeze_imported_heap
from agentflows.human_input import AnswerTimeout, served_by_a_worker, wait_for_answer
from agentflows.markdown import md_cell, md_code, md_link, md_quote, md_table, md_table_artifact, md_text, source_cell
from agentflows.prefect_env import artifact_url, flow_run_url
from agentflows.settings import get_settings
from agentflows.workspace_context import using_workspace
from agents.output_guards import verbatim_from
from agents.outreach.brief import (
    EmailDrafts,
    EmailVariant,
    ProspectBrief,
    ProspectProfile,
    StyleExample,
)
from agents.workspace import Workspace
from tasks.crm import ProspectRecord, load_prospects
from tasks.email import send_email
from tasks.generation import (
    choose_writer,
    draft_emails,
    model_of,
    preload_model_sdks,
    research,
    research_input,
    writer_input,
)
from tasks.memory import angles_to_avoid, style_examples
from tasks.outreach import (
    Decision,
    Outcome,
    SavedDrafts,
    open_review,
    record_decision,
    save_drafts,
    start_approval_run,
)
from tasks.usage import publish_usage
from tasks.web import fetch_website
from tasks.workspace import use_workspace, workspace_at

preload_model_sdks()  # the provider SDK's import happens here, not in front of a run's first model request

# --- the approval form (the UI renders `agentflows.forms.OutreachApproval`; `agentflows approve` fills it) ---


def decide(answer: OutreachApproval, drafts: EmailDrafts) -> Decision | str:
    """The decision an approval form means, or a message saying why it cannot be accepted.

    Which drafts the answer is about is settled by the pause it answers (its key names their digest).
    """
    if answer.decision == "reject":
        return Decision(outcome="rejected", reviewer=answer.reviewer.strip(), note=answer.note)
    variant = int(answer.decision.rsplit(" ", 1)[1])
    chosen = drafts.variants[variant - 1]
    subject = answer.subject.strip() or chosen.subject
    body = answer.body.strip() or chosen.body
    if not subject.isprintable():
        return f"The subject must be one line of text, got {subject!r}. Edit it and submit again."
    return Decision(
        outcome="sent",
        reviewer=answer.reviewer.strip(),
        variant=variant,
        subject=subject,
        body=body,
        edited=(subject, body) != (chosen.subject, chosen.body),
        note=answer.note,
    )


class ProspectOutcome(BaseModel):
    prospect_id: int
    flow_run_id: str | None
    outcome: Outcome | Literal["failed", "awaiting_approval"]
    writer: str | None = None
    error: str | None = None
    variant: int | None = None
    reviewer: str | None = None
    message_id: str | None = None


class OutreachSummary(BaseModel):
    outcomes: list[ProspectOutcome]


def summary_table(outcomes: list[ProspectOutcome]) -> list[dict[str, object]]:
    """The batch's summary artifact; the UI renders string cells as markdown, and errors quote what failed."""
    return md_table_artifact(o.model_dump(mode="json") for o in outcomes)


# --- drafting concurrency: at most `max_parallel_drafts` prospects drafting at once per process ---

_slots: WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = WeakKeyDictionary()


def drafting_slots() -> asyncio.Semaphore:
    loop = asyncio.get_running_loop()
    if loop not in _slots:
        _slots[loop] = asyncio.Semaphore(get_settings().max_parallel_drafts)
    return _slots[loop]


class SlowStart:
    """Lets a batch's prospects start drafting a few at a time, then three times as many each step.

    asyncio runs ready coroutines in turn. With every drafting slot taken at once, each prospect's fetch,
    prompt and task-run bookkeeping interleaves with all the others', and a model request's way out (a
    few dozen awaits: task run, cache lookup, provider slot, SDK) waits a round of the whole batch at
    each of them: the first request left 3.6-8.9 s after the start at 1,000 prospects (11 s with all
    100 slots opened at once). Here the first `first` prospects go alone; each one whose first model
    request has been answered (`reached`, also when it failed) lets two more in, so the batch is at
    full width after about log3(max_parallel_drafts) request round trips.
    """

    def __init__(self, first: int = 4) -> None:
        self._admissions = asyncio.Semaphore(first)

    async def admit(self) -> None:
        await self._admissions.acquire()  # never given back: each admission is one prospect's, for good

    def reached(self) -> None:
        self._admissions.release()
        self._admissions.release()


# --- the flows --------------------------------------------------------------------------------


def drafts_markdown(
    profile: ProspectProfile,
    brief: ProspectBrief,
    writer: str,
    model: str,
    drafts: EmailDrafts,
    digest: str,
    flow_run_id: str,
    examples: list[StyleExample],
    versions: str = "",
) -> str:
    """What the reviewer reads in the run's Artifacts tab: the brief with its sources, then the three drafts.

    Everything but our own labels is untrusted (CRM notes, earlier emails, web text, model output) and goes
    through `agentflows.markdown`, so no fact can break the table or add structure to the page.
    """
    offline_note = (
        "\n> **Offline model**: these drafts were written deterministically from CRM and web facts, "
        "without a language model.\n"
        if model == "offline"
        else ""
    )
    facts = md_table(
        ["id", "fact", "source"], [(md_code(f.id), f.text, source_cell(f.source)) for f in brief.facts], limit=200
    )
    parts = [
        f"# Outreach to {md_cell(profile.name)}, {md_cell(profile.role)} at {md_cell(profile.company)}",
        offline_note,
        f"**Writer:** {md_code(writer)} · **Model:** {md_code(model)} · **Web:** {md_cell(brief.web_source, limit=120)}"
        f" · **Digest:** {md_code(digest)}",
        *([f"**Workspace:** {versions}"] if versions else []),
        f"\n## Brief\n{md_text(brief.summary)}\n\n{facts}",
        "\n**Likely pains:** " + "; ".join(md_cell(p) for p in brief.pains),
    ]
    if brief.prior_outreach:
        parts.append(
            "\n## Prior outreach to this account\n" + "\n".join(f"- {md_cell(line)}" for line in brief.prior_outreach)
        )
    if examples:
        parts.append(
            "\n## Reviewer examples the writer was given\n"
            + "\n".join(
                f"- {md_cell(e.kind)} by {md_cell(e.reviewer or 'a reviewer')} ({md_code(e.ref)}): "
                f"{md_cell(example_gist(e))}"
                for e in examples
            )
        )
    parts.extend(f"\n{variant_markdown(i, v)}" for i, v in enumerate(drafts.variants, start=1))
    parts.append(
        f"\n---\nApprove in the form (Resume) or: `agentflows approve {flow_run_id} --variant N --reviewer NAME`"
        f" / `agentflows reject {flow_run_id} --reviewer NAME --note WHY`"
    )
    return "\n".join(parts)


def variant_markdown(number: int, variant: EmailVariant, heading: str = "##") -> str:
    """One draft as the reviewer reads it: angle, subject, cited facts, and the body as a quote."""
    return (
        f"{heading} Variant {number}: {md_cell(variant.angle)}\n**Subject:** {md_cell(variant.subject)}  \n"
        f"**Facts:** {md_cell(', '.join(variant.facts_used))}\n\n{md_quote(variant.body)}"
    )


def example_gist(example: StyleExample) -> str:
    """One line per example: the reviewer's rewritten opening, or why they rejected."""
    text = example.final_body if example.kind == "edited" else example.note
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    first = next((line for line in lines if not line.endswith(",")), text)  # skip the "Hi Ana," greeting
    return (first[:160] + "…") if len(first) > 160 else first


def verbatim_mark(variant: EmailVariant, brief: ProspectBrief) -> str:
    """A warning naming the draft's passages copied word for word from the website (as the brief quotes it).

    Website text is written by third parties; a reviewer approving a draft should know which of its words
    are theirs, not the writer's (`agents.output_guards.verbatim_from`: runs of 8 words or more).
    """
    site = [f.text for f in brief.facts if f.source.startswith("web:")]
    passages = verbatim_from(f"{variant.subject}\n{variant.body}", site)
    if not passages:
        return ""
    quoted = " · ".join(f"“{md_cell(p, limit=200)}”" for p in passages)
    return f"\n\n> **Verbatim from the prospect's website** (check before sending): {quoted}"


def form_description(
    profile: ProspectProfile, model: str, drafts: EmailDrafts, artifact_link: str, brief: ProspectBrief | None = None
) -> str:
    """What the approval form shows: one link to the whole drafts page, then the three drafts to choose from,
    each with its website-verbatim passages marked (given the `brief`)."""
    lines = [
        f"**{md_link('Open the drafts page (brief, facts and their sources)', artifact_link)}**",
        f"\n### {md_cell(profile.name)}, {md_cell(profile.role)} at {md_cell(profile.company)}",
    ]
    if model == "offline":
        lines.append("_Offline model: drafted without a language model, from CRM and web facts only._")
    lines.extend(
        f"\n{variant_markdown(i, v, heading='####')}{verbatim_mark(v, brief) if brief else ''}"
        for i, v in enumerate(drafts.variants, start=1)
    )
    return "\n".join(lines)


def waiting_line(flow_run_id: str) -> str:
    """The log line before the pause: the run page shows it above Prefect's own "Suspended" line."""
    return (
        f"waiting for a reviewer: open {flow_run_url(flow_run_id)} or run "
        f"`agentflows approve {flow_run_id} --variant N --reviewer NAME` "
        f"(or `agentflows reject {flow_run_id} --reviewer NAME --note WHY`)"
    )


async def ask_reviewer(drafts: EmailDrafts, digest: str, description: str) -> Decision:
    """Pause until a reviewer answers; re-ask (with the reason) when an answer cannot be accepted.

    Each pause's key carries the drafts' digest (`pause_key`): the answer is stored under it, and the
    command line answers only a run paused on the drafts the database holds.
    """
    settings = get_settings()
    logger = get_run_logger()
    problem = ""
    for attempt in range(1, 21):
        form = OutreachApproval.with_initial_data(
            description=(f"**Not accepted:** {md_cell(problem)}\n\n" if problem else "") + description
        )
        try:
            answer = await wait_for_answer(
                form,
                timeout_s=settings.approval_timeout_s,
                key=pause_key(APPROVAL_PAUSE, digest, attempt),
                waiting=waiting_line(str(current_flow_run.id)),
            )
        except AnswerTimeout:
            return Decision(outcome="timed_out")
        result = decide(answer, drafts)
        if isinstance(result, Decision):
            return result
        problem = result
        logger.warning("approval not accepted: %s", problem)
    raise RuntimeError("20 approval answers in a row could not be accepted; giving up without sending")


def workspace_line(workspace: Workspace, writer: str) -> str:
    """The versions behind a set of drafts, as the reviewer sees them: the snapshot and the writer's file."""
    file = workspace.writers.get(writer)
    return f"version {md_code(workspace.version)}" + (
        f" · writer file {md_code(workspace.snapshot.ref(file.path))}" if file else ""
    )


async def draft_for(
    record: ProspectRecord, batch_run_id: str, workspace: Workspace, start: SlowStart | None = None
) -> SavedDrafts:
    """Web + CRM -> brief -> writer -> three drafts, stored for review. Model calls are tasks."""
    profile = record.profile
    if start is not None:
        await start.admit()
    async with drafting_slots():
        try:
            web = await fetch_website(f"https://{profile.domain}/")
            brief = await research(research_input(record, web, workspace), workspace)
        finally:
            if start is not None:
                start.reached()
        route = await choose_writer(profile, brief, workspace)
        context = " ".join([brief.summary, *(f.text for f in brief.facts)])
        examples = await style_examples(route.writer, context)
        drafts = await draft_emails(
            writer_input(
                profile,
                brief,
                route.writer,
                workspace,
                avoid_angles=angles_to_avoid(record.prior_outreach),
                style_examples=examples,
            ),
            workspace,
        )
    model = model_of(route.writer, workspace)
    return await save_drafts(batch_run_id, profile, route.writer, model, brief, drafts, examples, workspace.version)


async def batch_inputs(prospect_ids: list[int]) -> tuple[Workspace, dict[int, ProspectRecord]]:
    """The run's workspace snapshot (one for the whole run) and its prospects' CRM records, each id once.

    Unknown ids fail here, before any work. Loading is set-wise: 1,000 records take ~0.1 s. The
    process's imports are frozen out of the garbage collector first (once per process): a batch's
    thousands of task runs would otherwise trigger full collections that walk them again and again.
    """
    freeze_imported_heap()
    workspace = await asyncio.to_thread(workspace_at, await use_workspace())
    return workspace, await load_prospects(list(dict.fromkeys(prospect_ids)))


Review = Callable[[ProspectRecord, SavedDrafts], Awaitable[ProspectOutcome]]


async def draft_prospects(
    records: dict[int, ProspectRecord], batch_run_id: str, workspace: Workspace, review: Review | None = None
) -> list[SavedDrafts | ProspectOutcome | BaseException]:
    """The drafting half of a batch: every prospect drafted (then `review`ed), in the order given.

    Prospects start under one `SlowStart`, so the first model request leaves while the rest are still
    waiting their turn. A prospect's failure is its own result (the exception), never the others'.
    """
    start = SlowStart()

    async def one(record: ProspectRecord) -> SavedDrafts | ProspectOutcome:
        saved = await draft_for(record, batch_run_id, workspace, start)
        return saved if review is None else await review(record, saved)

    with using_workspace(workspace.version):  # usage rows of every model request record it
        return await asyncio.gather(*(one(r) for r in records.values()), return_exceptions=True)


@flow(name="outreach-approval", flow_run_name="outreach-approval-{draft_id}", persist_result=True)
async def outreach_approval(draft_id: int) -> ProspectOutcome:
    """One prospect's drafts in front of a reviewer; sends the approved one exactly once."""
    flow_run_id = str(current_flow_run.id)
    review = await open_review(draft_id, flow_run_id)
    profile = review.profile
    versions = ""
    if review.workspace_version:
        versions = workspace_line(await asyncio.to_thread(workspace_at, review.workspace_version), review.writer)
    markdown = drafts_markdown(
        profile,
        review.brief,
        review.writer,
        review.model,
        review.drafts,
        review.digest,
        flow_run_id,
        review.style_examples,
        versions,
    )
    artifact_id = await acreate_markdown_artifact(
        markdown=markdown,
        key=f"outreach-drafts-{profile.contact_id}",
        description=f"Drafts for {md_cell(profile.name)} at {md_cell(profile.company)}",
    )
    description = form_description(profile, review.model, review.drafts, artifact_url(artifact_id), review.brief)
    decision = await ask_reviewer(review.drafts, review.digest, description)
    key = await record_decision(review, flow_run_id, decision)
    message_id = await send_email(key) if key else None
    get_run_logger().info("prospect %s: %s", profile.contact_id, decision.outcome)
    return ProspectOutcome(
        prospect_id=profile.contact_id,
        flow_run_id=flow_run_id,
        outcome=decision.outcome,
        writer=review.writer,
        variant=decision.variant,
        reviewer=decision.reviewer,
        message_id=message_id,
    )


async def review_drafts(record: ProspectRecord, saved: SavedDrafts) -> ProspectOutcome:
    """Review in this process (a paused subflow), or as the draft's own run that holds no process."""
    if served_by_a_worker():
        approval_run_id = await start_approval_run(saved.draft_id)
        return ProspectOutcome(
            prospect_id=record.profile.contact_id, flow_run_id=approval_run_id, outcome="awaiting_approval"
        )
    return await outreach_approval(saved.draft_id)


@flow(name="prospect-outreach", persist_result=True)
async def prospect_outreach(prospect_ids: list[int]) -> OutreachSummary:
    """Draft outreach for every prospect concurrently; each then waits for its own approval run."""
    if not prospect_ids:
        raise ValueError("prospect_ids is empty: pass at least one contact id")
    batch_run_id = str(current_flow_run.id)
    workspace, records = await batch_inputs(prospect_ids)
    ids = list(records)
    results = await draft_prospects(records, batch_run_id, workspace, review_drafts)
    outcomes = [
        r
        if isinstance(r, ProspectOutcome)
        else ProspectOutcome(prospect_id=pid, flow_run_id=None, outcome="failed", error=f"{type(r).__name__}: {r}")
        for pid, r in zip(ids, results, strict=True)
    ]
    await acreate_table_artifact(
        table=summary_table(outcomes),
        key="prospect-outreach-summary",
        description="What happened to each prospect",
    )
    await publish_usage(batch_run_id)
    failed = [o for o in outcomes if o.outcome == "failed"]
    if failed:  # the others finished; the batch run still shows red so nobody misses these
        raise RuntimeError(
            f"{len(failed)} of {len(ids)} prospects failed: " + "; ".join(f"{o.prospect_id}: {o.error}" for o in failed)
        )
    return OutreachSummary(outcomes=outcomes)
