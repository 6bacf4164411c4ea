"""A proposed workspace beside the active one, on the same prospects: what would change in the drafts.

The `workspace-change` flow runs this before anyone approves a change. Both workspaces draft for
the same fixed sample of CRM prospects (research, routing, writing, exactly as the outreach flow
does, with the same model; offline by default), without fetching websites, so the comparison
shows what the workspace changed and nothing else. Every model call is a task of the change run.

Why not pydantic-evals: its `Dataset.evaluate` scores one task function per case; here the unit is
two configurations on the same cases, and what a reviewer needs is the difference (routing moved,
claims refused, example drafts before/after), which we render ourselves. The figures are simple
counts over the sample, listed below.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass, field

from sqlalchemy import select

from agentflows.db import session_scope
from agentflows.db.crm import Contact
from agentflows.markdown import md_cell, md_quote
from agentflows.workspace_context import using_workspace
from agents.outreach.brief import EmailDrafts, WebFindings
from agents.workspace import Workspace
from tasks.crm import ProspectRecord, load_profiles_sync, load_prospects_sync
from tasks.generation import GenerationError, choose_writer, draft_emails, research, research_input, writer_input

SAMPLE_SIZE = 12
NOT_FETCHED = WebFindings(url="about:evaluation", available=False, error="not fetched in a workspace evaluation")


@dataclass
class ProspectResult:
    contact_id: int
    who: str
    writer: str
    reason: str
    drafts: EmailDrafts | None = None
    error: str | None = None
    kb_cited: list[str] = field(default_factory=list)
    never_claim_hits: list[str] = field(default_factory=list)


@dataclass
class OutreachSide:
    version: str
    results: list[ProspectResult]

    @property
    def routing(self) -> Counter[str]:
        return Counter(r.writer for r in self.results)

    @property
    def passed(self) -> int:
        return sum(1 for r in self.results if r.drafts is not None)

    @property
    def variants(self) -> int:
        return sum(len(r.drafts.variants) for r in self.results if r.drafts)

    @property
    def kb_citations(self) -> int:
        return sum(len(r.kb_cited) for r in self.results)

    @property
    def never_claim_refusals(self) -> int:
        return sum(1 for r in self.results if r.error and "never make" in r.error)

    @property
    def mean_words(self) -> float:
        words = [len(v.body.split()) for r in self.results if r.drafts for v in r.drafts.variants]
        return round(sum(words) / len(words), 1) if words else 0.0


def sample_prospects(limit: int = SAMPLE_SIZE, pool: int = 300) -> dict[int, ProspectRecord]:
    """The fixed evaluation sample: the same contacts every time, spread over departments and customer status.

    From the first `pool` contacts by id, the first of each (department, customer or not) in turn,
    so a writer for one department meets its prospects even when the CRM starts with another one.
    """
    with session_scope() as session:
        ids = list(session.scalars(select(Contact.id).order_by(Contact.id).limit(pool)))
    groups: dict[tuple[str, bool], list[int]] = {}
    for contact_id, p in sorted(load_profiles_sync(ids).items()):
        groups.setdefault((p.department, p.is_customer), []).append(contact_id)
    picked: list[int] = []
    while len(picked) < limit and any(groups.values()):
        for members in groups.values():
            if members and len(picked) < limit:
                picked.append(members.pop(0))
    return load_prospects_sync(sorted(picked)) if picked else {}


async def _one(record: ProspectRecord, workspace: Workspace) -> ProspectResult:
    p = record.profile
    who = f"{p.name}, {p.role} at {p.company}"
    try:
        brief = await research(research_input(record, NOT_FETCHED, workspace), workspace)
        route = await choose_writer(p, brief, workspace)
    except GenerationError as exc:
        return ProspectResult(p.contact_id, who, "(none)", "", error=str(exc))
    result = ProspectResult(p.contact_id, who, route.writer, route.reason)
    try:
        drafts = await draft_emails(writer_input(p, brief, route.writer, workspace), workspace)
    except GenerationError as exc:
        result.error = str(exc)
        return result
    kb = {f.id: f.source for f in brief.facts if f.source.startswith("kb:")}
    result.drafts = drafts
    result.kb_cited = [kb[f] for v in drafts.variants for f in v.facts_used if f in kb]
    result.never_claim_hits = [
        phrase for v in drafts.variants for phrase in workspace.knowledge.forbidden_in(f"{v.subject}\n{v.body}")
    ]
    return result


async def evaluate_outreach(workspace: Workspace, records: dict[int, ProspectRecord]) -> OutreachSide:
    """Draft for every sampled prospect with `workspace`; its model requests' usage rows record its version."""
    with using_workspace(workspace.version):
        results = await asyncio.gather(*(_one(r, workspace) for r in records.values()))
    return OutreachSide(workspace.version, list(results))


def changed_writers(active: Workspace, proposed: Workspace) -> list[str]:
    """Writers whose file was added or changed in the proposal."""
    return [
        name
        for name, w in proposed.writers.items()
        if name not in active.writers or active.writers[name].version != w.version
    ]


def outreach_markdown(active: Workspace, proposed: Workspace, before: OutreachSide, after: OutreachSide) -> str:
    """The outreach half of the comparison: figures side by side, routing moves, example drafts per changed writer."""
    n = len(before.results)
    rows = [
        ("prospects drafted (validator passed)", f"{before.passed}/{n}", f"{after.passed}/{n}"),
        ("drafts refused for a never-claim phrase", before.never_claim_refusals, after.never_claim_refusals),
        (
            "never-claim phrases in shown drafts",
            sum(len(r.never_claim_hits) for r in before.results),
            sum(len(r.never_claim_hits) for r in after.results),
        ),
        ("knowledge (kb:) citations", before.kb_citations, after.kb_citations),
        ("mean words per draft", before.mean_words, after.mean_words),
    ]
    writers = sorted(set(before.routing) | set(after.routing))
    rows += [(f"routed to `{w}`", before.routing.get(w, 0), after.routing.get(w, 0)) for w in writers]
    table = "| figure | active | proposed |\n|---|---|---|\n" + "\n".join(
        f"| {a} | {md_cell(str(b))} | {md_cell(str(c))} |"
        for a, b, c in rows  # labels are ours; writer names are [a-z0-9-]
    )
    moved = [(x, y) for x, y in zip(before.results, after.results, strict=True) if x.writer != y.writer]
    parts = [f"## Outreach, on {n} CRM prospects\n", table]
    if moved:
        parts.append(
            "\n**Routing changes:**\n"
            + "\n".join(f"- {md_cell(y.who)}: `{x.writer}` -> `{y.writer}` ({md_cell(y.reason)})" for x, y in moved)
        )
    failed = [r for r in after.results if r.error]
    if failed:
        parts.append(
            "\n**Failed with the proposal:**\n"
            + "\n".join(f"- {md_cell(r.who)}: {md_cell(r.error, limit=300)}" for r in failed)
        )
    for name in changed_writers(active, proposed):
        examples = [
            (x, y) for x, y in zip(before.results, after.results, strict=True) if y.writer == name and y.drafts
        ][:2]
        parts.append(f"\n### Writer `{name}`: example drafts, before and after")
        if not examples:
            parts.append("No prospect in the sample routes to this writer.")
        for x, y in examples:
            assert y.drafts is not None
            parts.append(f"\n**{md_cell(y.who)}**")
            if x.drafts:
                v = x.drafts.variants[0]
                parts.append(f"\n_Before (`{x.writer}`):_ **{md_cell(v.subject)}**\n\n{md_quote(v.body)}")
            v = y.drafts.variants[1 if len(y.drafts.variants) > 1 else 0]
            parts.append(f"\n_After (`{y.writer}`):_ **{md_cell(v.subject)}**\n\n{md_quote(v.body)}")
    return "\n".join(parts)
