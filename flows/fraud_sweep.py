"""Fraud sweep: every claim not yet checked -> one `fraud-check` run each, a bounded number at a time.

Run it: `agentflows run fraud-sweep --since 2026-10-01`. The undecided claims are selected in one
query; each becomes a `fraud-check` subflow (its own state, retries and review pause). At most
`fraud_sweep_concurrency` of them work at once, so a sweep of thousands does not swamp the model
provider or the database (the default SQLite Prefect server locks up beyond ~25 concurrent
subflows). A run that pauses for its analyst gives its slot back: waiting costs nothing, and a
handful of risky cases cannot stall the rest of the sweep. A claim that another sweep or worker
is already checking comes back `skipped` (the `claim_checks` lock), never checked twice.

The sweep takes the workspace snapshot once, at its start, and passes its version to every
`fraud-check` it starts: all claims of one sweep are judged by the same rules, agent files and
templates, even if the workspace changes while the sweep runs (a change applies to the next sweep),
and each child shows the version it was given among its parameters.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import datetime

from prefect import flow, get_run_logger, task
from prefect.artifacts import acreate_table_artifact
from pydantic import BaseModel

from agentflows.markdown import md_table_artifact
from agentflows.settings import get_settings
from flows.fraud_check import FraudCheckResult, fraud_check, sweep_slot
from tasks.fraud.cases import CaseAlreadyDecidedError, undecided_claims
from tasks.workspace import use_workspace


class SweepItem(BaseModel):
    case_id: int
    outcome: str
    flow_run_id: str | None = None
    risk: float | None = None
    error: str | None = None


def sweep_table(items: list[SweepItem]) -> list[dict[str, object]]:
    """The sweep's artifact; the UI renders string cells as markdown, and errors quote what failed."""
    return md_table_artifact(item.model_dump(mode="json") for item in items)


class SweepSummary(BaseModel):
    selected: int
    counts: dict[str, int]
    items: list[SweepItem]


@task(name="select-undecided-claims")
async def select_undecided(since: datetime | None, limit: int) -> list[int]:
    """Claims without a check (or whose check failed), oldest first, in one query."""
    return await asyncio.to_thread(undecided_claims, since, limit)


async def check_one(case_id: int, slots: asyncio.Semaphore, workspace_version: str | None = None) -> SweepItem:
    """One `fraud-check` subflow (on the given workspace version) holding a slot until it finishes or waits."""
    await slots.acquire()
    released = False

    def release() -> None:
        nonlocal released
        if not released:
            released = True
            slots.release()

    try:
        with sweep_slot(release):
            result: FraudCheckResult = await fraud_check(case_id, workspace_version=workspace_version)
        return SweepItem(
            case_id=case_id, outcome=result.outcome, flow_run_id=result.flow_run_id, risk=result.deterministic_risk
        )
    except CaseAlreadyDecidedError as exc:  # decided between our query and its check: nothing to do
        return SweepItem(case_id=case_id, outcome="skipped", error=str(exc))
    except Exception as exc:  # this claim failed (its run shows why); the sweep goes on with the others
        return SweepItem(case_id=case_id, outcome="failed", error=f"{type(exc).__name__}: {exc}"[:500])
    finally:
        release()


@flow(name="fraud-sweep", persist_result=True)
async def fraud_sweep(since: datetime | None = None, limit: int = 500) -> SweepSummary:
    """Check every undecided claim opened since `since` (at most `limit`), a bounded number at a time."""
    if limit < 1:
        raise ValueError(f"limit must be at least 1, got {limit}")
    logger = get_run_logger()
    version = await use_workspace()
    case_ids = await select_undecided(since, limit)
    slots = asyncio.Semaphore(get_settings().fraud_sweep_concurrency)
    logger.info(
        "sweeping %d undecided claims, %d at a time, on workspace %s",
        len(case_ids),
        get_settings().fraud_sweep_concurrency,
        version,
    )
    items = list(await asyncio.gather(*(check_one(cid, slots, version) for cid in case_ids)))
    counts = dict(Counter(item.outcome for item in items))
    if items:
        await acreate_table_artifact(
            table=sweep_table(items),
            key="fraud-sweep",
            description="Outcome of every claim in this sweep: " + ", ".join(f"{v} {k}" for k, v in counts.items()),
        )
    failed = [i for i in items if i.outcome == "failed"]
    if failed:  # the others finished; the sweep still shows red so nobody misses these
        raise RuntimeError(
            f"{len(failed)} of {len(items)} claims failed: " + "; ".join(f"{i.case_id}: {i.error}" for i in failed[:10])
        )
    return SweepSummary(selected=len(case_ids), counts=counts, items=items)
