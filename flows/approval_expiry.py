"""approval-expiry: the outcome of reviews whose wait ran out while no process was holding them.

A paused run notices its own timeout and records `timed_out`. A suspended one (served runs: see
`agentflows/human_input.py`) has no process left: the Prefect server fails it when the pause
expires ("paused and never resumed"). Every 15 minutes this flow finds those runs among outreach
drafts still awaiting approval and fraud cases still awaiting an analyst, and records the same
`timed_out` outcome a paused run would have: in the CRM (nothing is sent) and in the fraud audit
trail, so account memory, `agentflows approvals` and `agentflows fraud pending` agree with the UI.
"""

from __future__ import annotations

from prefect import flow, get_run_logger
from prefect.artifacts import acreate_table_artifact
from pydantic import BaseModel

from agentflows.markdown import md_table_artifact
from tasks.fraud.decisions import awaiting_reviews, record_review_timeout
from tasks.outreach import awaiting_approvals, record_timeout
from tasks.waits import expired_waits


class ExpiredWaits(BaseModel):
    drafts: list[int]  # outreach drafts recorded as timed out
    claims: list[int]  # fraud cases recorded as timed out


@flow(name="approval-expiry", persist_result=True)
async def approval_expiry() -> ExpiredWaits:
    """Record `timed_out` for every approval and review whose suspended run expired."""
    drafts, reviews = await awaiting_approvals(), await awaiting_reviews()
    expired = await expired_waits(sorted(drafts) + sorted(reviews))
    done = ExpiredWaits(drafts=[], claims=[])
    for flow_run_id in expired:
        if flow_run_id in drafts:
            await record_timeout(drafts[flow_run_id], flow_run_id)
            done.drafts.append(drafts[flow_run_id])
        elif await record_review_timeout(reviews[flow_run_id], flow_run_id) is not None:
            done.claims.append(reviews[flow_run_id])
    rows = [{"kind": "outreach draft", "id": d} for d in done.drafts]
    rows += [{"kind": "fraud case", "id": c} for c in done.claims]
    if rows:
        await acreate_table_artifact(
            table=md_table_artifact(rows), key="approval-expiry", description="Waits that expired unanswered"
        )
    get_run_logger().info("%d outreach approvals and %d fraud reviews timed out", len(done.drafts), len(done.claims))
    return ExpiredWaits(drafts=sorted(done.drafts), claims=sorted(done.claims))
