"""Scale-out on Prefect's own engine: PostgreSQL, one process work pool, two workers, overlapping sweeps.

A throwaway PostgreSQL holds both the Prefect server's database and the project's (the seeded
marketplace). `agentflows up --workers 2` starts the stack with two `prefect worker` processes on
the `agentflows` pool. Two `fraud-fanout` runs are started at the same moment over the same 200
oldest undecided claims (the second over the oldest 20 only, to keep the test short), so their
chunks race for the same claims on both workers. Then: every
claim any chunk was given has exactly one automatic decision (the `claim_checks` row is the lock,
not process memory), every chunk run completed, and both workers ran flow runs.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from agentflows.db import session_scope
from agentflows.db.fraud import FraudDecision
from tests.helpers import seed_database, wait_for
from tests.triggers.postgres import Postgres, pg_bin, start_postgres
from tests.triggers.stack import UpProcess, stack_env, start_up

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.e2e,
    pytest.mark.skipif(pg_bin() is None, reason="PostgreSQL server binaries (initdb, pg_ctl) are not installed"),
]

CLAIMS = 200
OVERLAP = 20


@pytest.fixture(scope="module")
def postgres() -> Iterator[Postgres]:
    server = start_postgres(["prefect", "agentflows"])
    yield server
    server.stop()


@pytest.fixture(scope="module")
def stack(postgres: Postgres, tmp_path_factory: pytest.TempPathFactory) -> Iterator[UpProcess]:
    from agentflows.db.session import get_engine
    from agentflows.seed.marketplace import seed_marketplace

    url = seed_database(postgres.url("agentflows"), seed_marketplace)
    get_engine(url).dispose()
    data_dir = tmp_path_factory.mktemp("scale-out") / "data"
    env = stack_env(
        data_dir,
        AGENTFLOWS_DATABASE_URL=url,
        PREFECT_API_DATABASE_CONNECTION_URL=postgres.url("prefect", "asyncpg"),
        AGENTFLOWS_WORKER_LIMIT="2",  # 2 workers x 2 slots: the 4 chunks must land on both
        AGENTFLOWS_SCHEDULES_ENABLED="false",
        AGENTFLOWS_FRAUD_REVIEW_TIMEOUT_S="3",  # reviews time out instead of waiting for an analyst
        AGENTFLOWS_FRAUD_SWEEP_CONCURRENCY="8",
        PREFECT_WORKER_QUERY_SECONDS="2",
        PREFECT_LOGGING_LEVEL="INFO",  # the workers log each flow run they submit
    )
    up = start_up(data_dir, env, "--workers", "2")
    yield up
    assert up.stop() == 0, up.text[-3000:]


def start_fanout(api: str, limit: int) -> str:
    deployment = httpx.get(f"{api}/deployments/name/fraud-fanout/on-demand", timeout=10).json()
    run = httpx.post(
        f"{api}/deployments/{deployment['id']}/create_flow_run",
        json={"parameters": {"limit": limit, "chunks": 2}},
        timeout=30,
    )
    run.raise_for_status()
    return run.json()["id"]


def chunk_runs(api: str) -> list[dict]:  # type: ignore[type-arg]
    query = {"flow_runs": {"tags": {"all_": ["fraud-fanout"]}}, "limit": 50}
    return httpx.post(f"{api}/flow_runs/filter", json=query, timeout=10).json()


def test_two_workers_share_overlapping_sweeps_and_no_claim_is_decided_twice(stack: UpProcess, postgres: Postgres):
    api = stack.api
    # Back to back: the second selects the same oldest claims as the first (a subset, to keep this short).
    fanouts = [start_fanout(api, CLAIMS), start_fanout(api, OVERLAP)]

    def chunks_done() -> list[dict] | None:  # type: ignore[type-arg]
        assert stack.process.poll() is None, stack.text[-3000:]
        runs = chunk_runs(api)
        final = [r for r in runs if r["state"]["type"] in {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}]
        return runs if len(runs) == 4 and len(final) == 4 else None

    started = time.monotonic()
    runs = wait_for(chunks_done, timeout=300, interval=2, what="the four chunk runs of two fan-outs to finish")
    elapsed = time.monotonic() - started
    assert [r["state"]["type"] for r in runs] == ["COMPLETED"] * 4, [r["state"] for r in runs]
    assert all(stack.run_state(f) == "COMPLETED" for f in fanouts)

    given = Counter(case_id for r in runs for case_id in r["parameters"]["case_ids"])
    assert len(given) >= CLAIMS and any(n == 2 for n in given.values()), "the two fan-outs did not overlap"
    with session_scope(postgres.url("agentflows")) as session:
        automatic = dict(
            session.execute(
                select(FraudDecision.claim_id, func.count())
                .where(FraudDecision.actor == "auto", FraudDecision.claim_id.in_(given))
                .group_by(FraudDecision.claim_id)
            ).all()
        )
    assert set(automatic) == set(given), f"claims without a decision: {sorted(set(given) - set(automatic))[:20]}"
    assert set(automatic.values()) == {1}, {c: n for c, n in automatic.items() if n != 1}

    logs = {name: (Path(stack.data_dir) / "logs" / f"{name}.log").read_text() for name in ("worker-1", "worker-2")}
    ran = {name: sum(r["id"] in text for r in runs) for name, text in logs.items()}
    assert all(ran.values()), f"a worker ran no chunk: {ran}"
    print(f"\n{len(given)} claims over 2 workers in {elapsed:.0f} s; chunk runs per worker: {ran}")
