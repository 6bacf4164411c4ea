"""The webhook receiver over real HTTP: signatures by third-party libraries, every rejection, idempotency.

Every rejection is checked three ways: the status code, no new flow run in the Prefect server (asked
through its API) and no delivery row; and the log line says why without the body or a secret.
"""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

import httpx
import pytest
from sqlalchemy import func, select
from svix.webhooks import Webhook as SvixWebhook

from agentflows.db import session_scope
from agentflows.db.webhooks import DeliveryStatus, WebhookDelivery
from deployments.webhook_secrets import generate_secret
from deployments.webhooks import FRAUD_CHECK, LANDING_PLAN, OUTREACH
from tests.helpers import wait_for
from tests.triggers.conftest import SECRETS, count_runs, live_receiver, signed_headers

pytestmark = pytest.mark.e2e

CRM = "/webhooks/crm/prospects-selected"
SHOP = "/webhooks/shop/claim-opened"
LANDING = "/webhooks/landing/form-submitted"
VISITOR = {
    "company": "Quietwater Analytics",
    "role": "Head of Growth",
    "email": "maya.patel@quietwater-private.example",
    "website": "https://quietwater-private.example/",
    "goals": "Double qualified demo requests before Q3.",
}


def read_run(flow_run_id: str):  # type: ignore[no-untyped-def]
    from prefect.client.orchestration import get_client

    async def read():  # type: ignore[no-untyped-def]
        async with get_client() as client:
            return await client.read_flow_run(UUID(flow_run_id))

    return asyncio.run(read())


def deliveries(db_url: str, delivery_id: str | None = None) -> int:
    with session_scope(db_url) as session:
        query = select(func.count(WebhookDelivery.id))
        if delivery_id:
            query = query.where(WebhookDelivery.delivery_id == delivery_id)
        return session.scalar(query) or 0


def test_standardwebhooks_signature_starts_outreach(receiver, trigger_deployments):
    deployment = trigger_deployments[OUTREACH]
    before = count_runs(deployment)
    body = json.dumps({"contact_ids": [3, 5], "selected_by": "rep-17"}).encode()  # extra field: ignored
    headers = signed_headers(SECRETS["crm"][0], body)
    answer = receiver.post(CRM, body, headers)
    assert answer.status_code == 202, answer.text
    data = answer.json()
    run = read_run(data["flow_run_id"])
    assert str(run.deployment_id) == deployment
    assert run.parameters == {"prospect_ids": [3, 5]}
    assert run.idempotency_key == f"webhook:crm:{headers['webhook-id']}"
    assert data["flow_run_url"].endswith(f"/runs/flow-run/{data['flow_run_id']}")
    assert data["delivery_id"] == headers["webhook-id"] and data["deployment"] == OUTREACH
    assert count_runs(deployment) == before + 1

    def stored() -> WebhookDelivery | None:  # the run id is written right after the answer
        with session_scope(receiver.db_url) as session:
            row = session.scalar(select(WebhookDelivery).where(WebhookDelivery.delivery_id == headers["webhook-id"]))
        return row if row.status == DeliveryStatus.STARTED else None

    assert wait_for(stored, timeout=10, interval=0.05, what="the stored run id").flow_run_id == data["flow_run_id"]


def test_svix_signature_with_the_rotated_secret_starts_fraud_check(receiver, trigger_deployments):
    deployment = trigger_deployments[FRAUD_CHECK]
    before = count_runs(deployment)
    body = b'{"claim_id": 42}'
    msg_id, now = f"msg_{uuid4().hex}", datetime.now(UTC)
    signature = SvixWebhook(SECRETS["shop"][1]).sign(msg_id, now, body.decode())  # the second secret of two
    headers = {"webhook-id": msg_id, "webhook-timestamp": str(int(now.timestamp())), "webhook-signature": signature}
    answer = receiver.post(SHOP, body, headers)
    assert answer.status_code == 202, answer.text
    assert read_run(answer.json()["flow_run_id"]).parameters == {"case_id": 42}
    assert count_runs(deployment) == before + 1


def _tampered(body: bytes) -> tuple[bytes, dict[str, str]]:
    return body.replace(b"3", b"4"), signed_headers(SECRETS["crm"][0], body)


def _wrong_secret(body: bytes) -> tuple[bytes, dict[str, str]]:
    return body, signed_headers(generate_secret(), body)


def _stale(body: bytes) -> tuple[bytes, dict[str, str]]:
    return body, signed_headers(SECRETS["crm"][0], body, at=datetime.now(UTC) - timedelta(minutes=6))


def _future(body: bytes) -> tuple[bytes, dict[str, str]]:
    return body, signed_headers(SECRETS["crm"][0], body, at=datetime.now(UTC) + timedelta(minutes=6))


def _unsigned(body: bytes) -> tuple[bytes, dict[str, str]]:
    headers = signed_headers(SECRETS["crm"][0], body)
    del headers["webhook-signature"]
    return body, headers


def _garbled_signature(body: bytes) -> tuple[bytes, dict[str, str]]:
    return body, signed_headers(SECRETS["crm"][0], body) | {"webhook-signature": "v1"}


def _signed(raw: bytes) -> tuple[bytes, dict[str, str]]:
    return raw, signed_headers(SECRETS["crm"][0], raw)


def _oversize(body: bytes) -> tuple[bytes, dict[str, str]]:
    big = json.dumps({"contact_ids": [3], "padding": "x" * 256 * 1024}).encode()
    return big, signed_headers(SECRETS["crm"][0], big)


@pytest.mark.parametrize(
    ("case", "make", "status"),
    [
        ("tampered body", _tampered, 401),
        ("wrong secret", _wrong_secret, 401),
        ("stale timestamp", _stale, 401),
        ("future timestamp", _future, 401),
        ("missing signature", _unsigned, 401),
        ("garbled signature header", _garbled_signature, 401),
        ("malformed JSON", lambda _: _signed(b'{"contact_ids": [3, 5'), 400),
        ("not UTF-8", lambda _: (b'{"contact_ids": [3]}\xff', {"webhook-id": "x", "webhook-timestamp": "1"}), 400),
        ("mistyped field", lambda _: _signed(b'{"contact_ids": ["3"]}'), 422),
        ("missing field", lambda _: _signed(b'{"ids": [3]}'), 422),
        ("empty list", lambda _: _signed(b'{"contact_ids": []}'), 422),
        ("oversize body", _oversize, 413),
    ],
)
def test_rejections_create_no_run_and_write_nothing(receiver, trigger_deployments, caplog, case, make, status):
    deployment = trigger_deployments[OUTREACH]
    before_runs, before_rows = count_runs(deployment), deliveries(receiver.db_url)
    body, headers = make(json.dumps({"contact_ids": [3, 5]}).encode())
    with caplog.at_level(logging.INFO, logger="agentflows.webhooks"):
        answer = receiver.post(CRM, body, headers)
    assert answer.status_code == status, f"{case}: {answer.text}"
    assert count_runs(deployment) == before_runs, case
    assert deliveries(receiver.db_url) == before_rows, case
    lines = [r.getMessage() for r in caplog.records if r.name == "agentflows.webhooks"]
    assert len(lines) == 1 and lines[0].startswith("rejected crm delivery"), lines
    assert "contact_ids" not in caplog.text and all(s not in caplog.text for s in SECRETS["crm"])


def test_field_errors_are_returned_without_echoing_the_payload(receiver):
    body = json.dumps({"contact_ids": [3, "five", -1]}).encode()
    answer = receiver.post(CRM, body, signed_headers(SECRETS["crm"][0], body))
    assert answer.status_code == 422
    errors = answer.json()["detail"]
    assert [e["loc"] for e in errors] == [["contact_ids", 1], ["contact_ids", 2]]
    assert "five" not in answer.text


def test_oversize_body_without_content_length_is_cut_off(receiver, trigger_deployments):
    before = count_runs(trigger_deployments[OUTREACH])
    big = b'{"contact_ids": [3], "padding": "' + b"x" * (300 * 1024) + b'"}'
    headers = signed_headers(SECRETS["crm"][0], big)

    def chunks():  # type: ignore[no-untyped-def]
        for start in range(0, len(big), 16 * 1024):
            yield big[start : start + 16 * 1024]

    answer = httpx.post(f"{receiver.url}{CRM}", content=chunks(), headers=headers, timeout=30)
    assert answer.status_code == 413
    assert count_runs(trigger_deployments[OUTREACH]) == before


def test_replayed_delivery_gets_the_same_answer_and_no_second_run(receiver, trigger_deployments):
    deployment = trigger_deployments[OUTREACH]
    body = b'{"contact_ids": [7]}'
    headers = signed_headers(SECRETS["crm"][0], body)
    first = receiver.post(CRM, body, headers)
    runs = count_runs(deployment)
    again = receiver.post(CRM, body, headers)
    assert first.status_code == again.status_code == 202
    assert again.json() == first.json()
    assert count_runs(deployment) == runs
    # The same id with another payload is not a retry: refused, still one run.
    other = b'{"contact_ids": [8]}'
    reused = receiver.post(CRM, other, signed_headers(SECRETS["crm"][0], other, msg_id=headers["webhook-id"]))
    assert reused.status_code == 409
    assert count_runs(deployment) == runs and deliveries(receiver.db_url, headers["webhook-id"]) == 1


def test_fifty_concurrent_copies_of_one_delivery_create_one_run(receiver, trigger_deployments):
    deployment = trigger_deployments[OUTREACH]
    before = count_runs(deployment)
    body = b'{"contact_ids": [11, 12]}'
    headers = signed_headers(SECRETS["crm"][0], body)

    async def send_all() -> list[httpx.Response]:
        limits = httpx.Limits(max_connections=50)
        async with httpx.AsyncClient(base_url=receiver.url, timeout=60, limits=limits) as client:
            return await asyncio.gather(*(client.post(CRM, content=body, headers=headers) for _ in range(50)))

    answers = asyncio.run(send_all())
    assert [a.status_code for a in answers] == [202] * 50
    assert len({a.text for a in answers}) == 1
    assert count_runs(deployment) == before + 1
    assert deliveries(receiver.db_url, headers["webhook-id"]) == 1


def test_landing_form_is_validated_and_starts_a_plan(receiver, trigger_deployments, caplog):
    deployment = trigger_deployments[LANDING_PLAN]
    before = count_runs(deployment)
    bad = json.dumps(VISITOR | {"email": "not-an-email", "website": 17}).encode()
    refused = receiver.post(LANDING, bad, signed_headers(SECRETS["landing"][0], bad))
    assert refused.status_code == 422
    assert sorted(e["loc"][0] for e in refused.json()["detail"]) == ["email", "website"]
    body = json.dumps(VISITOR | {"utm_source": "ads"}).encode()
    with caplog.at_level(logging.INFO, logger="agentflows.webhooks"):
        answer = receiver.post(LANDING, body, signed_headers(SECRETS["landing"][1], body))
    assert answer.status_code == 202, answer.text
    data = answer.json()
    assert data["plan_url"] == f"/plans/{data['flow_run_id']}"
    assert read_run(data["flow_run_id"]).parameters == {"visitor": VISITOR}
    assert count_runs(deployment) == before + 1
    # Personal data never reaches the log, nor does a secret.
    assert VISITOR["email"] not in caplog.text and VISITOR["company"] not in caplog.text
    assert all(s not in caplog.text for values in SECRETS.values() for s in values)
    # No runner serves the deployment here, so the plan is not ready: 202 with the run's state.
    pending = httpx.get(f"{receiver.url}{data['plan_url']}", timeout=10)
    assert pending.status_code == 202 and pending.json()["state"] == "SCHEDULED" and pending.json()["plan"] is None


def test_unknown_routes_and_runs_are_404_and_health_answers(receiver):
    body = b'{"contact_ids": [1]}'
    assert (
        receiver.post("/webhooks/erp/order-created", body, signed_headers(SECRETS["crm"][0], body)).status_code == 404
    )
    assert receiver.post("/webhooks/crm/unknown", body, signed_headers(SECRETS["crm"][0], body)).status_code == 404
    assert httpx.get(f"{receiver.url}/plans/{uuid4()}", timeout=10).status_code == 404
    assert httpx.get(f"{receiver.url}/plans/not-a-uuid", timeout=10).status_code == 404
    outreach = receiver.post(CRM, body, signed_headers(SECRETS["crm"][0], body)).json()["flow_run_id"]
    assert httpx.get(f"{receiver.url}/plans/{outreach}", timeout=10).status_code == 404  # not a landing run
    health = httpx.get(f"{receiver.url}/healthz", timeout=10)
    assert health.status_code == 200 and health.json() == {
        "status": "ok",
        "sources": {"crm": True, "shop": True, "landing": True},
    }


def test_a_busy_prefect_gets_a_queued_answer_and_the_run_follows(trigger_deployments, tmp_path):
    """Answers never wait on Prefect longer than `webhook_answer_within_s` (here 0: always queued)."""
    deployment = trigger_deployments[FRAUD_CHECK]
    before = count_runs(deployment)
    body = b'{"claim_id": 31}'
    headers = signed_headers(SECRETS["shop"][0], body)
    with live_receiver(f"sqlite:///{tmp_path / 'q.db'}", AGENTFLOWS_WEBHOOK_ANSWER_WITHIN_S="0") as live:
        answer = live.post(SHOP, body, headers)
        assert answer.status_code == 202, answer.text
        queued = answer.json()
        assert queued["status"] == "queued" and queued["flow_run_id"] is None, queued
        status_url = f"{live.url}{queued['status_url']}"
        started = wait_for(
            lambda: (r := httpx.get(status_url, timeout=10)).status_code == 200 and r.json(),
            timeout=30,
            interval=0.1,
            what="the queued delivery's run",
        )
        assert started["status"] == "started" and started["status_url"] == queued["status_url"]
        run = read_run(started["flow_run_id"])
        assert run.parameters == {"case_id": 31} and str(run.deployment_id) == deployment
        again = live.post(SHOP, body, headers)  # a redelivery now gets the run
        assert again.status_code == 202 and again.json() == started
        assert count_runs(deployment) == before + 1
        with session_scope(live.db_url) as session:
            row = session.scalar(select(WebhookDelivery).where(WebhookDelivery.delivery_id == headers["webhook-id"]))
            assert row.parameters is None, "parameters are dropped once Prefect holds the run"
        assert httpx.get(f"{live.url}/deliveries/{'0' * 32}", timeout=10).status_code == 404


def test_deliveries_a_dead_receiver_left_queued_are_started_by_the_next(trigger_deployments, tmp_path):
    from agentflows.db.migrate import upgrade

    deployment = trigger_deployments[FRAUD_CHECK]
    before = count_runs(deployment)
    db_url = f"sqlite:///{tmp_path / 'dead.db'}"
    upgrade(db_url)
    long_ago = datetime.now(UTC) - timedelta(minutes=5)
    with session_scope(db_url) as session:
        for delivery_id, claim, updated in (
            ("msg_left_behind", 77, long_ago),
            ("msg_in_flight", 78, datetime.now(UTC)),
        ):
            session.add(
                WebhookDelivery(
                    source="shop",
                    delivery_id=delivery_id,
                    payload_sha256="0" * 64,
                    deployment=FRAUD_CHECK,
                    status=DeliveryStatus.ACCEPTED,
                    ticket=delivery_id.ljust(32, "x"),
                    parameters={"case_id": claim},
                    updated_at=updated,
                )
            )
    with live_receiver(db_url) as live:  # its startup sweep takes over the abandoned row only

        def started() -> WebhookDelivery | None:
            with session_scope(db_url) as session:
                row = session.scalar(select(WebhookDelivery).where(WebhookDelivery.delivery_id == "msg_left_behind"))
            return row if row.flow_run_id else None

        row = wait_for(started, timeout=30, interval=0.1, what="the abandoned delivery's run")
        run = read_run(row.flow_run_id)
        assert run.parameters == {"case_id": 77} and run.idempotency_key == "webhook:shop:msg_left_behind"
        in_flight = httpx.get(f"{live.url}/deliveries/{'msg_in_flight'.ljust(32, 'x')}", timeout=10)
        assert in_flight.status_code == 202 and in_flight.json()["status"] == "queued"  # its receiver may be alive
    assert count_runs(deployment) == before + 1
