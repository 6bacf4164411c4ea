"""The floor under a warm run: what Prefect itself costs on this machine, with no agent, database or fetch.

    PREFECT_API_URL=http://127.0.0.1:4200/api .venv/bin/python -m benchmarks.latency_floor [--n 30]

`benchmarks/latency.py` runs it in a fresh process against the same Prefect server as the receiver
(same environment), so the figures sit in the same table as the paths they bound. Two floors:

  round trips  the four API calls every warm run makes, nothing else: create the run from a deployment,
               claim it (`Pending`), `Running`, `Completed`, each timed on its own
  empty flow   a `@flow` with one `@task` (results persisted, as the project's flows are) created from a
               deployment with the same concurrency limit as landing-plan, claimed and run in-process
               through `prefect.flow_engine.run_flow`, exactly as `deployments.warm` runs a flow: shared
               clients, no UI-suspend observer. Timed from the create call until `run_flow` returns.
  landing shape  the same, with the landing plan's five task runs and nothing in them: three at once
               (its fetch, CRM match and workspace lookup), then two in turn (its model request, the save)

Prints one JSON object: per measurement the sequential latencies in ms.
"""

from __future__ import annotations

import argparse
import asyncio
import contextvars
import json
import time
from typing import Any

from prefect import flow, task

FLOOR_CONCURRENCY = 8  # landing-plan/on-demand's limit: the claim takes a concurrency lease like a real run


@task(name="floor-task")
async def floor_task(step: int = 1) -> int:
    return step


@flow(name="latency-floor", persist_result=True)
async def floor_flow() -> int:
    return await floor_task()


@flow(name="latency-floor-landing-shape", persist_result=True)
async def landing_shape_flow() -> int:
    """landing-plan's task runs with no work in them: what its shape alone costs on the warm path."""
    # distinct inputs, as landing's tasks have: none of them is a cache hit on another
    fetched, matched, workspace = await asyncio.gather(floor_task(1), floor_task(2), floor_task(3))
    planned = await floor_task(4)
    return fetched + matched + workspace + planned + await floor_task(5)


async def _deployment(client: Any) -> Any:
    flow_id = await client.create_flow(floor_flow)
    return await client.create_deployment(
        flow_id=flow_id,
        name="floor",
        entrypoint="benchmarks/latency_floor.py:floor_flow",
        concurrency_limit=FLOOR_CONCURRENCY,
    )


async def round_trips(client: Any, deployment_id: Any, n: int) -> dict[str, list[float]]:
    from prefect.states import Completed, Pending, Running

    out: dict[str, list[float]] = {"create": [], "claim": [], "running": [], "completed": [], "total": []}
    for _ in range(n):
        t0 = time.perf_counter()
        run = await client.create_flow_run_from_deployment(deployment_id)
        t1 = time.perf_counter()
        await client.set_flow_run_state(run.id, Pending())
        t2 = time.perf_counter()
        await client.set_flow_run_state(run.id, Running())
        t3 = time.perf_counter()
        await client.set_flow_run_state(run.id, Completed())
        t4 = time.perf_counter()
        for key, value in zip(out, (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t4 - t0), strict=True):
            out[key].append(value * 1000)
    return out


async def empty_flow(client: Any, deployment_id: Any, n: int, body: Any = floor_flow) -> list[float]:
    from prefect.flow_engine import run_flow
    from prefect.states import Pending

    from agentflows.compat.prefect_warm import without_suspension_observer

    latencies = []
    for _ in range(n):
        t0 = time.perf_counter()
        run = await client.create_flow_run_from_deployment(deployment_id)
        answer = await client.set_flow_run_state(run.id, Pending())
        run.state = answer.state
        with without_suspension_observer():
            state = await run_flow(body, flow_run=run, return_type="state")
        latencies.append((time.perf_counter() - t0) * 1000)
        assert state.is_completed(), state
    return latencies


async def measure(n: int) -> dict[str, Any]:
    from prefect.client.orchestration import get_client
    from prefect.context import AsyncClientContext, SyncClientContext

    async with AsyncClientContext():
        with SyncClientContext():
            client = get_client()
            deployment_id = await _deployment(client)
            await empty_flow(client, deployment_id, 2)  # first-run imports and connections
            trips = await round_trips(client, deployment_id, n)
            # each run in its own context copy, as the warm runner starts them
            flows = await asyncio.create_task(empty_flow(client, deployment_id, n), context=contextvars.copy_context())
            await empty_flow(client, deployment_id, 2, landing_shape_flow)
            shaped = await asyncio.create_task(
                empty_flow(client, deployment_id, n, landing_shape_flow), context=contextvars.copy_context()
            )
    return {"round_trips": trips, "empty_flow": flows, "landing_shape": shaped}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=30)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(measure(args.n))))


if __name__ == "__main__":
    main()
