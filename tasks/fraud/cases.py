"""Cases: loading a claim, and the `claim_checks` row that makes one check per claim at a time.

Before any work, `fraud-check` inserts the claim's `claim_checks` row (unique on claim_id) with
its flow run id. A second check of the same claim, from another sweep or another worker, finds the
row and stops with `CaseBusyError` instead of doing the work twice; a claim that was decided
already raises `CaseAlreadyDecidedError`, naming the decision. A retry of the same flow run
re-enters its own row; a check that failed or timed out may be started again.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import datetime

from prefect import task
from prefect.cache_policies import NO_CACHE
from sqlalchemy import exists, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from agentflows.db import session_scope
from agentflows.db.base import utcnow
from agentflows.db.fraud import CheckStatus, Claim, ClaimCheck, FraudDecision
from agents.fraud.models import ClaimSummary
from tasks.fraud.batch import claim_summaries
from tasks.fraud.common import engine

RECHECKABLE = (CheckStatus.FAILED, CheckStatus.TIMED_OUT)


class UnknownCaseError(LookupError):
    """The case id is not a claim in the database. Raised before anything is written."""

    def __init__(self, case_id: int) -> None:
        self.case_id = case_id
        super().__init__(
            f"unknown case id {case_id}: there is no claim with this id. Nothing was started. "
            "List claims with `agentflows fraud cases` (or seed the marketplace with `agentflows seed`)."
        )


class CaseAlreadyDecidedError(RuntimeError):
    """The claim has a final decision; checking it again would contradict the audit trail."""

    def __init__(self, case_id: int, action: str, actor: str, at: datetime | None, flow_run_id: str | None) -> None:
        self.case_id, self.action = case_id, action
        when = f" on {at:%Y-%m-%d %H:%M} UTC" if at else ""
        super().__init__(
            f"case {case_id} was already decided: {action} by {actor}{when} (flow run {flow_run_id}). "
            f"Nothing was changed; its audit trail: `agentflows fraud show --case {case_id}`."
        )


class CaseBusyError(RuntimeError):
    """Another flow run is checking this claim right now (or waits for its analyst)."""

    def __init__(self, case_id: int, status: str, flow_run_id: str | None) -> None:
        self.case_id, self.status, self.flow_run_id = case_id, status, flow_run_id
        super().__init__(f"case {case_id} is already being checked by flow run {flow_run_id} ({status}); skipped")


def load_case_sync(case_id: int) -> ClaimSummary:
    with engine().connect() as conn:
        found = claim_summaries([case_id], conn)
    if case_id not in found:
        raise UnknownCaseError(case_id)
    return found[case_id]


@task(name="load-case")
async def load_case(case_id: int) -> ClaimSummary:
    """The claim with its order amount; `UnknownCaseError` (not retried) when it does not exist."""
    return await asyncio.to_thread(load_case_sync, case_id)


def _final_decision(session: Session, case_id: int) -> FraudDecision | None:
    return session.scalar(
        select(FraudDecision)
        .where(FraudDecision.claim_id == case_id, FraudDecision.action.notin_(["review"]))
        .order_by(FraudDecision.id.desc())
        .limit(1)
    )


def acquire_check_sync(case_id: int, flow_run_id: str) -> str:
    """Take the claim for this run: 'acquired', 'reentered' (same run), or raise busy/decided."""
    for _attempt in range(2):
        with session_scope() as session:
            row = session.scalar(select(ClaimCheck).where(ClaimCheck.claim_id == case_id))
            if row is None:
                session.add(ClaimCheck(claim_id=case_id, flow_run_id=flow_run_id, status=CheckStatus.IN_PROGRESS))
                try:
                    session.flush()
                except IntegrityError:  # another worker inserted it between our read and write: look again
                    session.rollback()
                    continue
                return "acquired"
            if row.flow_run_id == flow_run_id:
                return "reentered"
            if row.status == CheckStatus.DECIDED:
                final = _final_decision(session, case_id)
                raise CaseAlreadyDecidedError(
                    case_id,
                    final.action if final else (row.decision or "decided"),
                    final.actor if final else "unknown",
                    final.created_at if final else row.updated_at,
                    row.flow_run_id,
                )
            if row.status in RECHECKABLE:
                row.flow_run_id, row.status, row.error = flow_run_id, CheckStatus.IN_PROGRESS, None
                row.started_at = row.updated_at = utcnow()
                return "acquired"
            raise CaseBusyError(case_id, row.status.value, row.flow_run_id)
    raise CaseBusyError(case_id, "in_progress", None)


@task(name="acquire-check", cache_policy=NO_CACHE)
async def acquire_check(case_id: int, flow_run_id: str) -> str:
    return await asyncio.to_thread(acquire_check_sync, case_id, flow_run_id)


def mark_failed_sync(case_id: int, flow_run_id: str, error: str) -> None:
    """Release a claim whose check crashed, so a later run may check it again (only our own row)."""
    with session_scope() as session:
        row = session.scalar(select(ClaimCheck).where(ClaimCheck.claim_id == case_id))
        open_states = (CheckStatus.IN_PROGRESS, CheckStatus.AWAITING_REVIEW)
        if row is not None and row.flow_run_id == flow_run_id and row.status in open_states:
            row.status, row.error, row.updated_at = CheckStatus.FAILED, error[:4000], utcnow()


def undecided_claims(since: datetime | None, limit: int) -> list[int]:
    """Claims nobody has checked yet (or whose check failed), oldest first: one query."""
    with session_scope() as session:
        checked = exists().where(ClaimCheck.claim_id == Claim.id, ClaimCheck.status != CheckStatus.FAILED)
        query = select(Claim.id).where(~checked).order_by(Claim.opened_at, Claim.id).limit(limit)
        if since is not None:
            query = query.where(Claim.opened_at >= since)
        return list(session.scalars(query))


def check_rows(case_ids: Sequence[int]) -> dict[int, ClaimCheck]:
    with session_scope() as session:
        return {r.claim_id: r for r in session.scalars(select(ClaimCheck).where(ClaimCheck.claim_id.in_(case_ids)))}
