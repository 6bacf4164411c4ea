"""The warm path: the receiver runs landing plans and fraud checks as Prefect flow runs in its own process.

No runner or worker serves the deployments here (they are applied to the session's Prefect server
only), so a run that completes was run by the receiver. Each test asks Prefect's API what a user
would see in the UI: the deployment run, its tasks, its final state.
"""

from __future__ import annotations

import asyncio
import json
import time
from uuid import UUID

import httpx
import pytest
from sqlalchemy import func, select

from agentflows.db import session_scope
from agentflows.db.webhooks import LandingPlan
from deployments.webhooks import LANDING_PLAN
from tests.fraud.conftest import market_db, market_db_file  # noqa: F401  (fixtures)
from tests.triggers.conftest import SECRETS, live_receiver, signed_headers

pytestmark = pytest.mark.e2e

LANDING = "/webhooks/landing/form-submitted"
SHOP = "/webhooks/shop/claim-opened"
SITE = "<html><body><article><p>We ship fresh produce to grocery chains across the Midwest every day.</p>" * 3


def visitor(site: str, email: str = "dana@acme-produce.example") -> dict[str, str]:
    return {"company": "Acme Produce", "role": "VP Marketing", "email": email, "website": site, "goals": "More demos."}


def task_names(flow_run_id: str, expected: tuple[str, ...] = ()) -> list[str]:
    """The run's task-run names, once those starting with `expected` are there (the server records
    task runs from events, a moment after the run reports them)."""
    deadline = time.monotonic() + 15
    while True:
        names = asyncio.run(_task_names(flow_run_id))
        if all(any(n.startswith(e) for n in names) for e in expected) or time.monotonic() > deadline:
            return names
        time.sleep(0.2)


async def _task_names(flow_run_id: str) -> list[str]:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    async with get_client() as client:
        runs = await client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[UUID(flow_run_id)])))
        return sorted(r.name for r in runs)


def run_of(flow_run_id: str):  # type: ignore[no-untyped-def]
    from prefect.client.orchestration import get_client

    async def read():  # type: ignore[no-untyped-def]
        async with get_client() as client:
            return await client.read_flow_run(UUID(flow_run_id))

    return asyncio.run(read())


def test_a_landing_plan_runs_in_the_receiver_as_a_prefect_run(trigger_deployments, seeded_db, httpserver):
    httpserver.expect_request("/").respond_with_data(SITE, content_type="text/html")
    with live_receiver(seeded_db, AGENTFLOWS_WARM_RUNS=LANDING_PLAN) as live:
        body = json.dumps(visitor(httpserver.url_for("/"))).encode()
        timings = []
        for _ in range(2):  # the second is what every visitor after the first gets
            body = json.dumps(visitor(httpserver.url_for("/"), f"v{len(timings)}@acme-produce.example")).encode()
            started = time.perf_counter()
            answer = live.post(f"{LANDING}?wait=30", body, signed_headers(SECRETS["landing"][0], body))
            timings.append(time.perf_counter() - started)
            assert answer.status_code == 200, answer.text
        data = answer.json()
        # the answer leaves once the plan is stored: the run may still be recording its end
        assert data["state"] in {"RUNNING", "COMPLETED"} and data["plan"]["company"] == "Acme Produce", data
        deadline = time.monotonic() + 15
        while not (run := run_of(data["flow_run_id"])).state.is_final():
            assert time.monotonic() < deadline, run.state
            time.sleep(0.05)
        assert str(run.deployment_id) == trigger_deployments[LANDING_PLAN] and run.state.is_completed(), run.state
        expected = ("fetch-visitor-website", "match-crm-account", "save-landing-plan", "Model Request")
        names = task_names(data["flow_run_id"], expected)  # the planner's model request is a task too
        assert all(any(n.startswith(e) for n in names) for e in expected), names
        later = httpx.get(f"{live.url}/plans/{data['flow_run_id']}", timeout=10)
        assert later.status_code == 200 and later.json()["plan"] == data["plan"]
        assert later.json()["state"] == "COMPLETED"
        print(f"landing ?wait answers: {timings}")
        assert timings[1] < 3, timings  # seconds on the deployment-run path; well under one here
    with session_scope(seeded_db) as session:
        assert (
            session.scalar(select(func.count(LandingPlan.id)).where(LandingPlan.flow_run_id == data["flow_run_id"]))
            == 1
        )


def test_a_fraud_check_is_decided_in_the_receiver(trigger_deployments, market_db):  # noqa: F811
    from agentflows.db.fraud import Claim, FraudDecision

    with session_scope(market_db) as session:
        case = session.scalar(select(Claim.id).order_by(Claim.id))
    with live_receiver(
        market_db, AGENTFLOWS_WARM_RUNS="fraud-check/on-demand", AGENTFLOWS_WEBHOOK_ANSWER_WITHIN_S="10"
    ) as live:
        body = json.dumps({"claim_id": case}).encode()
        answer = live.post(SHOP, body, signed_headers(SECRETS["shop"][0], body))
        assert answer.status_code == 202, answer.text
        run_id = answer.json()["flow_run_id"]
        deadline = time.monotonic() + 30
        while not ((run := run_of(run_id)).state.is_final() or run.state.is_paused()):  # decided, or a review form
            assert time.monotonic() < deadline, run.state
            time.sleep(0.1)
        assert run.state.is_completed() or run.state.name == "Suspended", run.state  # a review holds no process
        assert str(run.deployment_id) == trigger_deployments["fraud-check/on-demand"]
        assert any(n.startswith("facts-") for n in task_names(run_id, ("facts-",)))
    with session_scope(market_db) as session:
        decisions = session.scalars(select(FraudDecision.action).where(FraudDecision.claim_id == case)).all()
    assert len(decisions) == 1 and decisions[0] in {"clear", "block", "review"}, decisions


def test_a_failed_plan_answers_failed_with_a_reason_and_no_internals(trigger_deployments, seeded_db):
    """#15.5: `?wait`, `/plans/{id}` and the status URL say the run failed and why, without secrets or internals."""
    from agentflows.prefect_server import free_port

    dead = f"http://127.0.0.1:{free_port()}/v1"  # nothing listens: the planner's only model request fails
    secret = "sk-live-do-not-leak-4c1d"
    env = {
        "AGENTFLOWS_WARM_RUNS": LANDING_PLAN,
        "AGENTFLOWS_MODEL": f"openai-compatible:gpt-4o-mini@{dead}",
        "AGENTFLOWS_OPENAI_API_KEY": secret,
        "AGENTFLOWS_MODEL_REQUEST_RETRIES": "0",
        "AGENTFLOWS_MODEL_REQUEST_TIMEOUT_S": "2",
    }
    with live_receiver(seeded_db, **env) as live:
        body = json.dumps(visitor("http://127.0.0.1:9/")).encode()
        answer = live.post(f"{LANDING}?wait=30", body, signed_headers(SECRETS["landing"][0], body))
        assert answer.status_code == 200, answer.text
        failed = answer.json()
        assert failed["state"] == "FAILED" and failed["plan"] is None and failed["reason"], failed
        later = httpx.get(f"{live.url}/plans/{failed['flow_run_id']}", timeout=10).json()
        assert later["state"] == "FAILED" and later["reason"] == failed["reason"]
        again = live.post(LANDING, body, signed_headers(SECRETS["landing"][0], body))  # a new delivery id
        status = httpx.get(live.url + again.json()["status_url"], timeout=10)
        deadline = time.monotonic() + 30
        while status.json().get("run_state") is None:
            assert time.monotonic() < deadline, status.json()
            time.sleep(0.2)
            status = httpx.get(live.url + again.json()["status_url"], timeout=10)
        assert status.json()["run_state"] == "FAILED" and status.json()["reason"] == failed["reason"]
    for text in (json.dumps(failed), json.dumps(later), status.text):  # the run's exception text stays in Prefect
        for internal in (secret, dead, "Traceback", "GenerationError", "ModelConnectionError", "landing-planner"):
            assert internal not in text, (internal, text)
