"""Answering a paused fraud check from code or the CLI: the same form the Prefect UI shows, filled in.

The answer is validated here first (so a typo gets a clear message and the run stays paused), then
by the Prefect server against the form's schema; it is sent only while the run is paused on the
verdict the database holds (the digest in the run's pause key, see `agentflows.approvals.Reviewed`).
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError
from sqlalchemy import select

from agentflows.db import session_scope
from agentflows.db.fraud import CheckStatus, ClaimCheck
from agentflows.forms import FraudReview


class ReviewError(ValueError):
    """A review answer that cannot be applied; the message says what to do instead."""


def awaiting_review() -> list[ClaimCheck]:
    """Claims whose check is paused for an analyst, oldest first."""
    with session_scope() as session:
        return list(
            session.scalars(
                select(ClaimCheck)
                .where(ClaimCheck.status == CheckStatus.AWAITING_REVIEW)
                .order_by(ClaimCheck.updated_at)
            )
        )


def review_input(case_id: int, outcome: str, analyst: str, note: str = "") -> tuple[str, dict[str, Any]]:
    """(flow run id, run input) answering the paused check of `case_id`, validated like the form."""
    with session_scope() as session:
        check = session.scalar(select(ClaimCheck).where(ClaimCheck.claim_id == case_id))
    if check is None:
        raise ReviewError(f"case {case_id} has not been checked; run `agentflows run fraud-check --case {case_id}`")
    if check.status != CheckStatus.AWAITING_REVIEW:
        raise ReviewError(f"case {case_id} is not waiting for a review (status {check.status.value})")
    data = {"outcome": outcome, "analyst": analyst, "note": note}
    try:
        FraudReview.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise ReviewError(f"review not sent ({problems}); the run stays paused") from exc
    assert check.flow_run_id is not None
    return check.flow_run_id, data


async def submit_review(flow_run_id: str, run_input: dict[str, Any]) -> None:
    """Resume the paused fraud check with the analyst's answer, if it waits on the verdict the database holds."""
    from agentflows.approvals import Reviewed, resume_paused_run
    from agentflows.forms import FRAUD_REVIEW_PAUSE

    with session_scope() as session:
        digest = session.scalar(select(ClaimCheck.verdict_digest).where(ClaimCheck.flow_run_id == flow_run_id))
    if digest is None:
        raise ReviewError(f"no fraud check waits in run {flow_run_id}; list them with `agentflows fraud pending`")
    await resume_paused_run(flow_run_id, run_input, ReviewError, Reviewed(FRAUD_REVIEW_PAUSE, digest, "verdict"))
