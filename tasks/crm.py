"""CRM tool tasks: who the prospects are, what happened at their accounts, and what we did about it.

Reads are set-wise (one query for all requested prospects, one for all their accounts' history)
so a batch of a thousand prospects costs a handful of queries, not thousands. Writes are keyed
by an idempotency key so a retried task never writes an activity twice.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from prefect import task
from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from agentflows.db import session_scope
from agentflows.db.crm import Account, Activity, ActivityKind, Contact, Deal, DealStage
from agentflows.prompt_caps import capped
from agentflows.settings import get_settings
from agents.outreach.brief import HistoryItem, PriorOutreach, ProspectProfile


class UnknownProspectsError(ValueError):
    """Prospect ids that are not contacts in the CRM. Raised before any work starts."""

    def __init__(self, unknown: Sequence[int]) -> None:
        self.unknown = sorted(unknown)
        super().__init__(
            f"unknown prospect ids: {self.unknown}. Nothing was started. "
            "List contacts with `agentflows prospects` (or seed the demo CRM with `agentflows seed`)."
        )


def _profiles(session: Session, contact_ids: Sequence[int]) -> dict[int, ProspectProfile]:
    rows = session.execute(
        select(Contact, Account).join(Account, Contact.account_id == Account.id).where(Contact.id.in_(contact_ids))
    ).all()
    account_ids = {account.id for _, account in rows}
    won: dict[int, list[str]] = defaultdict(list)
    for account_id, product in session.execute(
        select(Deal.account_id, Deal.product).where(Deal.account_id.in_(account_ids), Deal.stage == DealStage.WON)
    ):
        if product not in won[account_id]:
            won[account_id].append(product)
    return {
        contact.id: ProspectProfile(
            contact_id=contact.id,
            name=contact.full_name,
            role=contact.role,
            seniority=contact.seniority.value,
            department=contact.department,
            account_id=account.id,
            company=account.name,
            domain=account.domain,
            industry=account.industry,
            employees=account.employees,
            region=account.region,
            is_customer=bool(won[account.id]),
            products_owned=won[account.id],
        )
        for contact, account in rows
    }


def load_profiles_sync(contact_ids: Sequence[int]) -> dict[int, ProspectProfile]:
    """Profiles for `contact_ids`; raises `UnknownProspectsError` naming every id not found."""
    ids = list(dict.fromkeys(contact_ids))
    with session_scope() as session:
        profiles = _profiles(session, ids)
    unknown = [i for i in ids if i not in profiles]
    if unknown:
        raise UnknownProspectsError(unknown)
    return profiles


def pick_demo_prospects() -> list[int]:
    """Three contacts that exercise three different writers (expansion, technical, executive when they exist).

    For `agentflows demo` and the end-to-end tests, from the seeded CRM (`agentflows.seed.crm`). It
    lives here, not with the seed, because it routes CRM profiles the way the flow does: by the
    active workspace's writers and rules.
    """
    from agents.workspace.routing import rule_route
    from tasks.workspace import active_workspace

    writers = list(active_workspace().writers.values())
    with session_scope() as session:
        ids = list(session.scalars(select(Contact.id).order_by(Contact.id).limit(300)))
    preferred = ["existing-customer-expansion", "technical-buyer", "new-logo-executive"]
    picked: dict[str, int] = {}
    accounts: set[int] = set()
    for contact_id, profile in sorted(load_profiles_sync(ids).items()):
        writer = rule_route(profile, writers).writer
        if writer is not None and writer not in picked and profile.account_id not in accounts:
            picked[writer] = contact_id
            accounts.add(profile.account_id)
    order = [w for w in preferred if w in picked] + [w for w in picked if w not in preferred]
    return [picked[w] for w in order[:3]]


# Our own outreach is account memory (`tasks.memory`: a brief's prior-outreach section), never a fact
# about the prospect: as history, a sent email's body became a "CRM fact" that drafts quoted back.
OWN_OUTREACH = (ActivityKind.OUTREACH_SENT, ActivityKind.OUTREACH_REJECTED, ActivityKind.OUTREACH_TIMED_OUT)


def load_history_sync(account_ids: Sequence[int], limit: int) -> dict[int, list[HistoryItem]]:
    """The newest `limit` activities (not our own outreach) and all deals of each account, newest first."""
    history: dict[int, list[HistoryItem]] = defaultdict(list)
    with session_scope() as session:
        for a in session.scalars(
            select(Activity)
            .where(Activity.account_id.in_(account_ids), Activity.kind.not_in(OWN_OUTREACH))
            .order_by(Activity.occurred_at.desc())
        ):
            if sum(1 for h in history[a.account_id] if h.ref.startswith("crm:activity")) < limit:
                history[a.account_id].append(
                    HistoryItem(
                        ref=f"crm:activity:{a.id}",
                        when=a.occurred_at,
                        kind=a.kind.value.replace("_", " "),
                        subject=a.subject,
                        text=capped(a.body, get_settings().prompt_cap_crm_text),  # marked when cut
                    )
                )
        for d in session.scalars(select(Deal).where(Deal.account_id.in_(account_ids))):
            history[d.account_id].append(
                HistoryItem(
                    ref=f"crm:deal:{d.id}",
                    when=d.closed_at or d.created_at,
                    kind=f"deal {d.stage.value}",
                    subject=f"{d.product} deal worth ${float(d.amount):,.0f}",
                )
            )
    for items in history.values():
        items.sort(key=lambda h: h.when, reverse=True)
    return history


class ProspectRecord(BaseModel):
    profile: ProspectProfile
    history: list[HistoryItem]
    prior_outreach: list[PriorOutreach] = []


def load_prospects_sync(contact_ids: Sequence[int]) -> dict[int, ProspectRecord]:
    from tasks.memory import prior_outreach_sync

    profiles = load_profiles_sync(contact_ids)
    account_ids = sorted({p.account_id for p in profiles.values()})
    history = load_history_sync(account_ids, get_settings().history_limit)
    memory = prior_outreach_sync(account_ids)
    return {
        cid: ProspectRecord(
            profile=p, history=history.get(p.account_id, []), prior_outreach=memory.get(p.account_id, [])
        )
        for cid, p in profiles.items()
    }


@task(name="load-prospects", retries=2, retry_delay_seconds=2)
async def load_prospects(contact_ids: list[int]) -> dict[int, ProspectRecord]:
    """Profiles, account histories and prior outreach of a whole batch in five queries; unknown ids fail here."""
    return await asyncio.to_thread(load_prospects_sync, contact_ids)


def record_activity_sync(
    *,
    idempotency_key: str,
    account_id: int,
    contact_id: int,
    kind: ActivityKind,
    subject: str,
    body: str,
    details: dict[str, Any],
    occurred_at: datetime | None = None,
) -> int:
    """Write one activity; if one with this key exists already, return it unchanged (retry-safe)."""
    with session_scope() as session:
        existing = session.scalar(select(Activity.id).where(Activity.idempotency_key == idempotency_key))
        if existing is not None:
            return existing
        activity = Activity(
            idempotency_key=idempotency_key,
            account_id=account_id,
            contact_id=contact_id,
            kind=kind,
            subject=subject[:300],
            body=body,
            details=details,
        )
        if occurred_at is not None:
            activity.occurred_at = occurred_at
        session.add(activity)
        try:
            session.flush()
        except IntegrityError:  # a concurrent writer won the race with the same key
            session.rollback()
            return session.scalar(select(Activity.id).where(Activity.idempotency_key == idempotency_key)) or 0
        return activity.id
