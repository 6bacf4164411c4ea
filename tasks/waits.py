"""Which paused runs the Prefect server failed because nobody answered before their wait expired."""

from __future__ import annotations

from prefect import task

EXPIRED_PAUSE = "paused and never resumed"  # the Prefect server's message when a pause times out


@task(name="expired-waits")
async def expired_waits(flow_run_ids: list[str]) -> list[str]:
    """The ids among `flow_run_ids` whose run is Failed for an expired pause (read 200 at a time)."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    expired: list[str] = []
    async with get_client() as client:
        for start in range(0, len(flow_run_ids), 200):
            chunk = flow_run_ids[start : start + 200]
            runs = await client.read_flow_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=chunk)), limit=200)
            expired += [
                str(r.id) for r in runs if r.state and r.state.is_failed() and EXPIRED_PAUSE in (r.state.message or "")
            ]
    return expired
