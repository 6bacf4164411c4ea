"""approval-expiry: the outcome of approvals whose wait ran out while no process was holding them.

A paused run notices its own timeout and records `timed_out`. A suspended one (served runs: see
`agentflows/human_input.py`) has no process left: the Prefect server fails it when the pause
expires ("paused and never resumed"). Every 15 minutes this flow finds those runs among the drafts
still awaiting approval and records the same `timed_out` outcome in the CRM, so account memory and
`agentflows approvals` agree with the Prefect UI. Nothing is sent.
"""

from __future__ import annotations

from prefect import flow, get_run_logger
from prefect.artifacts import acreate_table_artifact

from tasks.outreach import expired_approval_runs, record_timeout


@flow(name="approval-expiry", persist_result=True)
async def approval_expiry() -> list[int]:
    """Record `timed_out` for every outreach draft whose approval run expired; returns their draft ids."""
    expired = await expired_approval_runs()
    for flow_run_id, draft_id in sorted(expired.items(), key=lambda item: item[1]):
        await record_timeout(draft_id, flow_run_id)
    if expired:
        await acreate_table_artifact(
            table=[{"draft_id": d, "approval_run": r, "outcome": "timed_out"} for r, d in expired.items()],
            key="approval-expiry",
            description="Approvals whose wait expired",
        )
    get_run_logger().info("%d expired approvals recorded", len(expired))
    return sorted(expired.values())
