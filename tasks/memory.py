"""Account memory: what earlier outreach runs did at an account, read back from the CRM.

Every outreach outcome is already an activity (sent, rejected, timed out) with its angle(s),
reviewer and note, so memory is a query, not a store of its own: it survives restarts, works across
workers and shows exactly what the CRM shows. The researcher gets it as data (inside the data
section, like all CRM text) and the writers are told which angles not to reuse.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from prefect import task
from sqlalchemy import select

from agentflows.db import session_scope
from agentflows.db.crm import Activity, ActivityKind, Contact
from agentflows.prompt_caps import capped, capped_each
from agentflows.settings import get_settings
from agents.outreach.brief import PriorOutreach, StyleExample

logger = logging.getLogger("agentflows.memory")

OUTCOMES = {
    ActivityKind.OUTREACH_SENT: "sent",
    ActivityKind.OUTREACH_REJECTED: "rejected",
    ActivityKind.OUTREACH_TIMED_OUT: "timed out",
}


def prior_outreach_sync(account_ids: Sequence[int]) -> dict[int, list[PriorOutreach]]:
    """Earlier outreach per account within the memory window, newest first (one query)."""
    settings = get_settings()
    since = datetime.now(UTC) - timedelta(days=settings.memory_window_days)
    memory: dict[int, list[PriorOutreach]] = defaultdict(list)
    with session_scope() as session:
        rows = session.execute(
            select(Activity, Contact)
            .outerjoin(Contact, Contact.id == Activity.contact_id)
            .where(
                Activity.account_id.in_(account_ids),
                Activity.kind.in_(list(OUTCOMES)),
                Activity.occurred_at >= since,
            )
            .order_by(Activity.occurred_at.desc())
        ).all()
        for activity, contact in rows:
            if len(memory[activity.account_id]) >= settings.memory_max_items:
                continue
            details = activity.details or {}
            if details.get("forgotten"):
                continue
            angles = [details["angle"]] if details.get("angle") else list(details.get("angles", []))
            memory[activity.account_id].append(
                PriorOutreach(
                    ref=f"crm:activity:{activity.id}",
                    when=activity.occurred_at,
                    contact=f"{contact.full_name} ({contact.role})" if contact else "unknown contact",
                    outcome=OUTCOMES[activity.kind],
                    angles=angles,
                    subject=capped(activity.subject, settings.prompt_cap_crm_subject)
                    if activity.kind == ActivityKind.OUTREACH_SENT
                    else "",
                    note=capped(details.get("note") or "", 300),
                )
            )
    return memory


def angles_to_avoid(prior: Sequence[PriorOutreach]) -> list[str]:
    """Angles already sent to this account within the window: the writers must pick others."""
    return sorted({a for o in prior if o.outcome == "sent" for a in o.angles})


def examples_sync(writer: str) -> list[StyleExample]:
    """Every reviewer verdict on this writer's drafts: edited approvals and rejections with a note."""
    with session_scope() as session:
        rows = session.scalars(
            select(Activity)
            .where(Activity.kind.in_([ActivityKind.OUTREACH_SENT, ActivityKind.OUTREACH_REJECTED]))
            .order_by(Activity.occurred_at.desc())
            .limit(500)
        ).all()
    settings = get_settings()
    body, subject, note = (
        settings.prompt_cap_example_text,
        settings.prompt_cap_crm_subject,
        settings.prompt_cap_crm_text,
    )
    caps = {"drafted_subject": subject, "final_subject": subject, "drafted_body": body, "final_body": body}
    examples = []
    for a in rows:
        d = a.details or {}
        if d.get("writer") != writer or d.get("forgotten"):
            continue
        if a.kind == ActivityKind.OUTREACH_SENT and d.get("edited"):
            examples.append(
                StyleExample(
                    kind="edited",
                    ref=f"crm:activity:{a.id}",
                    reviewer=d.get("reviewer") or "",
                    drafted_subject=d.get("drafted_subject", ""),
                    drafted_body=d.get("drafted_body", ""),
                    final_subject=a.subject,
                    final_body=a.body,
                    note=capped(d.get("note") or "", note),
                )
            )
        elif a.kind == ActivityKind.OUTREACH_REJECTED and (d.get("note") or a.body):
            examples.append(
                StyleExample(
                    kind="rejected",
                    ref=f"crm:activity:{a.id}",
                    reviewer=d.get("reviewer") or "",
                    note=capped(d.get("note") or a.body, 500),
                    drafted_subject=", ".join(d.get("angles", [])),
                )
            )
    # the one place reviewer examples are made: each field capped and marked before it can reach a writer
    return capped_each(examples, caps)


def select_examples(candidates: list[StyleExample], context: str) -> list[StyleExample]:
    """The few most relevant examples: TF-IDF cosine similarity to this prospect's brief, newest first on ties,
    bounded in count and characters (the cap is logged when it bites)."""
    settings = get_settings()
    if not candidates or settings.memory_max_examples == 0:
        return []
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.metrics.pairwise import cosine_similarity

    texts = [f"{c.drafted_subject} {c.drafted_body} {c.final_body} {c.note}" for c in candidates]
    matrix = TfidfVectorizer(stop_words="english").fit_transform([context, *texts])
    scores = cosine_similarity(matrix[0], matrix[1:]).ravel()
    ranked = sorted(range(len(candidates)), key=lambda i: (-round(float(scores[i]), 6), i))
    chosen: list[StyleExample] = []
    used = 0
    for i in ranked:
        size = len(texts[i])
        if len(chosen) == settings.memory_max_examples:
            break
        if used + size > settings.memory_max_chars:
            logger.info(
                "memory cap hit: %s of %s examples fit in %s chars",
                len(chosen),
                len(candidates),
                settings.memory_max_chars,
            )
            break
        chosen.append(candidates[i])
        used += size
    return chosen


@task(name="select-style-examples", retries=1)
async def style_examples(writer: str, context: str) -> list[StyleExample]:
    """Reviewer examples for this writer, most relevant to `context` (the brief) first."""
    candidates = await asyncio.to_thread(examples_sync, writer)
    return select_examples(candidates, context)


def forget_sync(activity_id: int) -> bool:
    """Keep an activity in the CRM but out of every agent's memory; False if it is not outreach."""
    with session_scope() as session:
        activity = session.get(Activity, activity_id)
        if activity is None or activity.kind not in OUTCOMES:
            return False
        activity.details = {**(activity.details or {}), "forgotten": True}
    return True
