"""Account memory: what earlier outreach runs did at an account, read back from the CRM.

Every outreach outcome is already an activity (sent, rejected, timed out) with its angle(s),
reviewer and note, so memory is a query, not a store of its own: it survives restarts, works across
workers and shows exactly what the CRM shows. The researcher gets it as data (inside the data
section, like all CRM text) and the writers are told which angles not to reuse.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from agentflows.db import session_scope
from agentflows.db.crm import Activity, ActivityKind, Contact
from agentflows.settings import get_settings
from agents.outreach.brief import PriorOutreach

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
            angles = [details["angle"]] if details.get("angle") else list(details.get("angles", []))
            memory[activity.account_id].append(
                PriorOutreach(
                    ref=f"crm:activity:{activity.id}",
                    when=activity.occurred_at,
                    contact=f"{contact.full_name} ({contact.role})" if contact else "unknown contact",
                    outcome=OUTCOMES[activity.kind],
                    angles=angles,
                    subject=activity.subject if activity.kind == ActivityKind.OUTREACH_SENT else "",
                    note=(details.get("note") or "")[:300],
                )
            )
    return memory


def angles_to_avoid(prior: Sequence[PriorOutreach]) -> list[str]:
    """Angles already sent to this account within the window: the writers must pick others."""
    return sorted({a for o in prior if o.outcome == "sent" for a in o.angles})
