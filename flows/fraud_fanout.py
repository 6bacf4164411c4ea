"""Fraud fan-out: one sweep's work spread over a work pool's workers, a chunk of claims per run.

`fraud-sweep` checks its claims as subflows of one run, so one process on one worker does all of
it. When one machine is not enough (`agentflows up --workers N`, or workers on several machines on
a PostgreSQL-backed Prefect server), `fraud-fanout` selects the same undecided claims, deals them
round-robin into `chunks` and starts one `fraud-claims/on-demand` deployment run per chunk; the
work pool hands those runs to whichever workers have room. Each chunk checks its claims exactly as
a sweep does (`fraud-check` subflows, a bounded number at a time, paused reviews give their slot
back). Nothing here coordinates the workers: a claim's `claim_checks` row is the lock, so two
fan-outs, a fan-out and a sweep, or a retried chunk never check a claim twice.

The fan-out takes the workspace snapshot once and passes its version to every chunk run (a
parameter, visible in the UI): the chunks may start minutes later on other machines, and still all
judge by the same rules; each loads that snapshot from the project database.

Run it: "Run" on `fraud-fanout/on-demand` in the Prefect UI, or schedule it instead of `fraud-sweep`
in `deployments/prefect.yaml` on a multi-worker pool.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import datetime

from prefect import flow, get_run_logger
from prefect.deployments.flow_runs import arun_deployment
from prefect.runtime import flow_run as current_flow_run
from pydantic import BaseModel

from agentflows.settings import get_settings
from flows.fraud_sweep import SweepSummary, check_one, select_undecided
from tasks.workspace import use_workspace

CHUNK_DEPLOYMENT = "fraud-claims/on-demand"


class FanoutSummary(BaseModel):
    selected: int
    chunk_runs: list[str]


@flow(name="fraud-claims", persist_result=True)
async def fraud_claims(case_ids: list[int], workspace_version: str | None = None) -> SweepSummary:
    """Check these claims as a sweep would: `fraud-check` subflows, a bounded number at a time.

    `workspace_version`: the fan-out's snapshot; started by hand without one, the active workspace.
    """
    version = workspace_version or await use_workspace()
    slots = asyncio.Semaphore(get_settings().fraud_sweep_concurrency)
    items = list(await asyncio.gather(*(check_one(case_id, slots, version) for case_id in case_ids)))
    counts = dict(Counter(item.outcome for item in items))
    get_run_logger().info("checked %d claims: %s", len(items), counts)
    return SweepSummary(selected=len(case_ids), counts=counts, items=items)


@flow(name="fraud-fanout", persist_result=True)
async def fraud_fanout(since: datetime | None = None, limit: int = 500, chunks: int = 4) -> FanoutSummary:
    """Deal the undecided claims into `chunks` runs of `fraud-claims` for the work pool's workers."""
    if limit < 1 or chunks < 1:
        raise ValueError(f"limit and chunks must be at least 1, got limit={limit}, chunks={chunks}")
    version = await use_workspace()
    case_ids = await select_undecided(since, limit)
    parts = [part for part in (case_ids[i::chunks] for i in range(chunks)) if part]
    fanout_id = str(current_flow_run.id)
    runs = await asyncio.gather(
        *(
            arun_deployment(
                CHUNK_DEPLOYMENT,
                parameters={"case_ids": part, "workspace_version": version},
                timeout=0,  # dispatch only: the chunks' own states tell how they went
                idempotency_key=f"fraud-fanout:{fanout_id}:{i}",  # a retried fan-out starts no second chunk
                tags=["fraud-fanout"],
            )
            for i, part in enumerate(parts)
        )
    )
    get_run_logger().info("%d undecided claims dealt into %d chunk runs", len(case_ids), len(runs))
    return FanoutSummary(selected=len(case_ids), chunk_runs=[str(run.id) for run in runs])
