"""approval-expiry: a suspended approval that the Prefect server failed for an expired wait gets its
`timed_out` outcome in the CRM; one still waiting, or already decided, is left alone."""

from __future__ import annotations

import asyncio

import pytest
from prefect import flow
from prefect.context import get_run_context
from prefect.states import Failed, Suspended
from sqlalchemy import select

from agentflows.db import session_scope
from agentflows.db.crm import Activity, ActivityKind, OutboxMessage, OutreachDraft
from tasks.waits import EXPIRED_PAUSE

pytestmark = pytest.mark.e2e


@flow(name="outreach-drafting-for-expiry-test")
async def draft_two(ids: list[int]) -> list[int]:
    from flows.prospect_outreach import draft_for
    from tasks.crm import load_prospects
    from tasks.workspace import use_workspace, workspace_at

    records = await load_prospects(ids)
    batch = str(get_run_context().flow_run.id)
    workspace = workspace_at(await use_workspace())
    return [(await draft_for(records[i], batch, workspace)).draft_id for i in ids]


async def approval_run_in(state: object, flow_obj: object = None) -> str:
    """A run of the real `outreach-approval` flow, placed in `state` as the server would leave it."""
    from prefect.client.orchestration import get_client

    from flows.prospect_outreach import outreach_approval

    async with get_client() as client:
        run = await client.create_flow_run(flow_obj or outreach_approval, parameters={})
        await client.set_flow_run_state(run.id, state, force=True)
    return str(run.id)


def test_expired_suspended_approvals_are_recorded_once(prefect_server, seeded_db, smtp_sink):
    from flows.approval_expiry import approval_expiry

    expired_draft, waiting_draft = asyncio.run(draft_two([1, 2]))
    expired_run = asyncio.run(approval_run_in(Failed(message=f"The flow was {EXPIRED_PAUSE}.")))
    waiting_run = asyncio.run(approval_run_in(Suspended(timeout_seconds=3600)))
    with session_scope() as s:
        s.get(OutreachDraft, expired_draft).flow_run_id = expired_run
        s.get(OutreachDraft, waiting_draft).flow_run_id = waiting_run

    assert asyncio.run(approval_expiry()).drafts == [expired_draft]
    assert asyncio.run(approval_expiry()).drafts == [], "recorded once"
    with session_scope() as s:
        assert s.get(OutreachDraft, expired_draft).status == "timed_out"
        assert s.get(OutreachDraft, waiting_draft).status == "awaiting_approval"
        kinds = s.scalars(select(Activity.kind).where(Activity.details["flow_run_id"].as_string() == expired_run))
        assert list(kinds) == [ActivityKind.OUTREACH_TIMED_OUT]
        assert s.scalar(select(OutboxMessage)) is None
    assert smtp_sink.messages == []
