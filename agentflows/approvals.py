"""Approving outreach from code or the CLI: the same form the Prefect UI shows, filled in for you.

The answer is validated here first (so a typo gets a clear message and the run stays paused) and
then by the Prefect server against the form's JSON schema. The drafts a terminal user reviews are
the database's (`agentflows approvals`), the ones the run would send are those it paused on: the
digest in the run's pause key (`agentflows.forms.pause_key`) must equal the database's, or the
answer is refused and the run stays paused.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from pydantic import ValidationError
from sqlalchemy import select

from agentflows.compat.prefect import current_pause_key, is_missing_form_schema
from agentflows.db import session_scope
from agentflows.db.crm import Account, Contact, OutreachDraft


class ApprovalError(ValueError):
    """An approval that cannot be applied; the message says what to do instead."""


@dataclass
class PendingApproval:
    flow_run_id: str
    flow_run_name: str
    state: str
    contact_id: int
    contact: str
    company: str
    writer: str
    digest: str
    variants: list[dict[str, Any]]


def _draft(flow_run_id: str) -> OutreachDraft:
    with session_scope() as session:
        draft = session.scalar(select(OutreachDraft).where(OutreachDraft.flow_run_id == flow_run_id))
    if draft is None:
        raise ApprovalError(f"no outreach drafts recorded for run {flow_run_id}; list runs with `agentflows approvals`")
    return draft


async def pending_approvals() -> list[PendingApproval]:
    """Paused outreach runs and the drafts each is waiting on, oldest first."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterState, FlowRunFilterStateType
    from prefect.client.schemas.objects import StateType
    from prefect.client.schemas.sorting import FlowRunSort

    async with get_client() as client:
        runs = await client.read_flow_runs(
            flow_run_filter=FlowRunFilter(
                state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.PAUSED]))
            ),
            sort=FlowRunSort.START_TIME_ASC,
            limit=200,
        )
    ids = {str(r.id): r for r in runs}
    with session_scope() as session:
        rows = session.execute(
            select(OutreachDraft, Contact, Account)
            .join(Contact, Contact.id == OutreachDraft.contact_id)
            .join(Account, Account.id == Contact.account_id)
            .where(OutreachDraft.flow_run_id.in_(ids))
        ).all()
    pending = []
    for draft, contact, account in rows:
        run = ids[draft.flow_run_id]
        pending.append(
            PendingApproval(
                flow_run_id=draft.flow_run_id,
                flow_run_name=run.name,
                state=run.state_name or "Paused",
                contact_id=contact.id,
                contact=f"{contact.full_name} <{contact.email}>",
                company=account.name,
                writer=draft.writer,
                digest=draft.digest,
                variants=draft.variants,
            )
        )
    return pending


def approval_input(
    flow_run_id: str,
    *,
    variant: int | None,
    reviewer: str,
    subject: str = "",
    body: str = "",
    note: str = "",
    reject: bool = False,
) -> dict[str, Any]:
    """The run input for an approval (or rejection), validated against the form's own model."""
    from agentflows.forms import OutreachApproval

    if not reject and variant not in (1, 2, 3):
        raise ApprovalError(f"--variant must be 1, 2 or 3 (got {variant}); the run stays paused")
    draft = _draft(flow_run_id)
    if draft.status != "awaiting_approval":
        raise ApprovalError(f"run {flow_run_id} was already decided ({draft.status} by {draft.reviewer})")
    data = {
        "decision": "reject" if reject else f"send variant {variant}",
        "reviewer": reviewer,
        "subject": subject,
        "body": body,
        "note": note,
    }
    try:
        OutreachApproval.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise ApprovalError(f"approval not sent ({problems}); the run stays paused") from exc
    return data


@dataclass(frozen=True)
class Reviewed:
    """What the person answering has reviewed: a pause kind (`agentflows.forms`) and the digest of what they saw."""

    kind: str
    digest: str
    what: str = "drafts"


async def refuse_if_stale(flow_run_id: str, reviewed: Reviewed, error: type[Exception]) -> None:
    """Raise `error` unless the run is paused on exactly what was reviewed (the digest in its pause key).

    An answer goes to the pause the run waits on *now*; had the run re-asked about other drafts (or an
    older agentflows paused it), the answer would apply to something its author never saw.
    """
    from agentflows.forms import digest_in_pause_key

    key = await current_pause_key(UUID(flow_run_id))
    if key is None:
        raise error(f"run {flow_run_id} is not paused (already answered, or not started yet)")
    paused_on = digest_in_pause_key(reviewed.kind, key)
    if paused_on is None:
        raise error(
            f"run {flow_run_id} waits on {key!r}, not on a {reviewed.kind} of {reviewed.what} this version knows; "
            "answer it in the Prefect UI (its form shows what it waits on). Nothing was sent; the run stays paused"
        )
    if paused_on != reviewed.digest:
        raise error(
            f"run {flow_run_id} waits on {reviewed.what} {paused_on}, but the database holds {reviewed.what} "
            f"{reviewed.digest}: they changed since the run paused, so this answer would apply to {reviewed.what} "
            "you did not review. Answer in the Prefect UI (its form shows the run's own) or start a new run. "
            "Nothing was sent; the run stays paused"
        )


async def resume_paused_run(
    flow_run_id: str, run_input: dict[str, Any], error: type[Exception], reviewed: Reviewed | None = None
) -> None:
    """Resume a paused run with its form's answer; a refusal is raised as `error`, never swallowed.

    Shared by every approval form (outreach drafts, fraud reviews): the messages say what to do next.
    With `reviewed`, the run must be paused on that digest (`refuse_if_stale`), checked right before
    each resume attempt.
    """
    import asyncio

    from prefect.exceptions import NotPausedError, ObjectNotFound
    from prefect.flow_runs import aresume_flow_run

    # A run shows Paused a moment before its form's schema is saved; a busy server (twenty approvals
    # pausing at once) has taken over 5 s. Wait up to 30 s for it.
    deadline = time.monotonic() + 30
    while True:
        if reviewed is not None:
            try:
                await refuse_if_stale(flow_run_id, reviewed, error)
            except ObjectNotFound as exc:
                raise error(f"no flow run {flow_run_id} on this Prefect server") from exc
        try:
            await aresume_flow_run(UUID(flow_run_id), run_input=run_input)
            return
        except RuntimeError as exc:
            if not is_missing_form_schema(exc):
                raise error(f"the Prefect server refused the answer: {exc}; the run stays paused") from exc
            if time.monotonic() > deadline:
                break
            await asyncio.sleep(0.25)
        except NotPausedError as exc:
            raise error(f"run {flow_run_id} is not paused (already answered, or not started yet)") from exc
        except ObjectNotFound as exc:
            raise error(f"no flow run {flow_run_id} on this Prefect server") from exc
    raise error(f"run {flow_run_id} has no approval form yet; try again in a moment")


async def submit(flow_run_id: str, run_input: dict[str, Any]) -> None:
    """Resume the paused outreach run with `run_input`, if it waits on the drafts the database holds.

    The database's drafts are what `agentflows approvals` showed; see `resume_paused_run`.
    """
    from agentflows.forms import APPROVAL_PAUSE

    digest = _draft(flow_run_id).digest
    await resume_paused_run(flow_run_id, run_input, ApprovalError, Reviewed(APPROVAL_PAUSE, digest))
