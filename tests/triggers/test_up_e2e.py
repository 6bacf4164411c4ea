"""`agentflows up` end to end: the whole stack on free ports, driven the way the README says.

One stack for the module (about 20 s to start), exposed the way a team shares one (`up --host 0.0.0.0
--generate-auth`), so every test below also runs behind Prefect's basic auth: the API refuses a request
without the generated string, while the CLI, the runner, its flow runs and the receiver all use it. A
second `up` reports it; a claim-opened webhook
signed by `agentflows webhook sign` and sent with the printed curl command starts a fraud check that
reaches a final or paused state in the stack's Prefect server; the landing page gets its plan within
`?wait`; a CRM webhook's outreach is approved from another terminal and the email arrives; finally the
receiver is killed: `up` reports it loudly and starts it again, and when it keeps dying `up` stops
everything else.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from agentflows.db import session_scope
from agentflows.db.crm import Contact, OutreachDraft
from agentflows.processes import pid_alive
from agentflows.settings import get_settings
from tests.helpers import seed_database, wait_for
from tests.triggers.stack import UpProcess, stack_env, start_up

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[UpProcess]:
    from agentflows.seed.crm import seed_crm
    from agentflows.seed.marketplace import seed_marketplace

    data_dir = tmp_path_factory.mktemp("up") / "data"
    url = seed_database(f"sqlite:///{data_dir / 'agentflows.db'}", seed_crm, seed_marketplace)
    up = start_up(data_dir, stack_env(data_dir), "--host", "0.0.0.0", "--generate-auth")
    up.db_url = url  # type: ignore[attr-defined]
    yield up
    assert up.stop() in (0, 1), up.text[-3000:]  # 1: the last test killed a child on purpose


def test_second_up_reports_what_runs(stack: UpProcess):
    again = stack.cli("up", timeout=60)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "already up" in again.stdout and "webhooks" in again.stdout and "prefect-server" in again.stdout
    assert stack.process.poll() is None


def test_the_prefect_api_refuses_requests_without_the_auth_string(stack: UpProcess):
    auth_file = stack.data_dir / "prefect-auth"
    assert auth_file.stat().st_mode & 0o777 == 0o600 and stack.auth is not None
    user, password = stack.auth
    assert user == "agentflows" and len(password) >= 24
    assert password not in stack.text and "prefect-auth" in stack.text, "where it is, never what it is"
    for log in (stack.data_dir / "logs").glob("*.log"):
        assert password not in log.read_text(errors="replace"), log.name
    query = {"limit": 5}
    assert httpx.post(f"{stack.api}/deployments/filter", json=query, timeout=10).status_code == 401
    wrong = httpx.post(f"{stack.api}/deployments/filter", json=query, auth=(user, "guess"), timeout=10)
    assert wrong.status_code == 401
    right = httpx.post(f"{stack.api}/deployments/filter", json=query, auth=stack.auth, timeout=10)
    assert right.status_code == 200 and right.json(), "the runner registered the deployments with the string"
    assert httpx.get(f"{stack.api}/health", timeout=10).status_code == 200, "health stays open for probes"
    ui = httpx.get(stack.api.removesuffix("/api") + "/ui-settings", timeout=10).json()
    assert ui["auth"] == "BASIC" and ui["api_url"] == "/api", "the UI asks for a login, on whatever address"


def test_signed_claim_webhook_starts_a_fraud_check(stack: UpProcess):
    answer = stack.signed_post("shop", {"claim_id": 1})
    assert answer.status_code == 202, answer.text
    started = stack.started(answer)  # queued answers say where to look for the run
    run_id = started["flow_run_id"]
    assert answer.json()["deployment"] == "fraud-check/on-demand"
    state = wait_for(
        lambda: (s := stack.run_state(run_id)) in {"COMPLETED", "FAILED", "CRASHED", "PAUSED"} and s,
        timeout=120,
        what="the fraud check to finish or pause",
    )
    assert state in {"COMPLETED", "PAUSED"}, state
    page = httpx.get(started["flow_run_url"], headers={"accept": "text/html"}, timeout=10, follow_redirects=True)
    assert page.status_code == 200 and "<html" in page.text.lower()  # the UI page a browser gets


def test_landing_form_gets_its_plan_within_wait(stack: UpProcess):
    visitor = {
        "company": "Brightline Freight",
        "role": "Marketing Director",
        "email": "ana@brightline-freight.example",
        "website": "http://127.0.0.1:9/",  # loopback: noted by the SSRF guard, never fetched
        "goals": "More inbound leads from logistics managers",
    }
    answer = stack.signed_post("landing", visitor, "--wait", "30")
    assert answer.status_code == 200, answer.text
    plan = answer.json()["plan"]
    assert plan["company"] == "Brightline Freight" and [p["days"] for p in plan["plan"]] == [30, 60, 90]
    later = httpx.get(f"http://127.0.0.1:{stack.env['AGENTFLOWS_WEBHOOK_PORT']}/plans/{answer.json()['flow_run_id']}")
    assert later.status_code == 200 and later.json()["plan"] == plan
    version = answer.json()["workspace_version"]  # the workspace snapshot (instructions, knowledge) that wrote it
    assert version and len(version) == 12 and later.json()["workspace_version"] == version


def test_crm_webhook_outreach_is_approved_from_the_cli_and_sent(stack: UpProcess):
    with session_scope(stack.db_url) as session:  # type: ignore[attr-defined]
        contact = session.scalars(select(Contact).order_by(Contact.id)).first()
    answer = stack.signed_post("crm", {"contact_ids": [contact.id]})
    assert answer.status_code == 202, answer.text

    def approval_run() -> str | None:
        with session_scope(stack.db_url) as session:  # type: ignore[attr-defined]
            draft = session.scalar(select(OutreachDraft).where(OutreachDraft.contact_id == contact.id))
        return (
            draft.flow_run_id
            if draft and draft.flow_run_id and stack.run_state(draft.flow_run_id) == "PAUSED"
            else None
        )

    started = time.monotonic()
    run_id = wait_for(approval_run, timeout=120, what="the outreach approval run to pause")
    print(f"CRM webhook -> answerable approval form: {time.monotonic() - started:.1f} s")  # drafted warm
    assert stack.api_get(f"/flow_runs/{run_id}").json()["state"]["name"] == "Suspended"
    approved = stack.cli("approve", run_id, "--variant", "1", "--reviewer", "Dana")
    assert approved.returncode == 0, approved.stdout + approved.stderr
    mail = Path(stack.data_dir) / "mail"
    wait_for(lambda: list(mail.glob("*.eml")), timeout=90, what="the approved email in the SMTP sink")
    assert contact.email in next(mail.glob("*.eml")).read_text()
    wait_for(lambda: stack.run_state(run_id) == "COMPLETED", timeout=60, what="the approval run to finish")
    again = stack.cli("approve", run_id, "--variant", "2", "--reviewer", "Dana")  # a second click
    assert again.returncode != 0, again.stdout
    time.sleep(2)
    assert len(list(mail.glob("*.eml"))) == 1  # sent once


def test_a_served_fraud_review_suspends_and_the_analysts_answer_completes_it(stack: UpProcess, monkeypatch):
    from agentflows.db.fraud import FraudDecision
    from tests.fraud.test_fraud_check_e2e import cases_by_decision

    monkeypatch.setenv("AGENTFLOWS_DATABASE_URL", stack.db_url)  # type: ignore[attr-defined]
    get_settings.cache_clear()
    case = cases_by_decision()["review"][0]
    get_settings.cache_clear()
    run_id = stack.started(stack.signed_post("shop", {"claim_id": case}))["flow_run_id"]

    def suspended() -> bool:
        state = stack.api_get(f"/flow_runs/{run_id}").json()["state"]
        assert state["type"] not in {"FAILED", "CRASHED", "COMPLETED"}, state
        return state["name"] == "Suspended"

    wait_for(suspended, timeout=120, what="the fraud review to suspend (no process holds it)")
    decided = stack.cli("fraud", "decide", "--case", str(case), "--outcome", "not fraud", "--analyst", "Ana")
    assert decided.returncode == 0, decided.stdout + decided.stderr
    wait_for(lambda: stack.run_state(run_id) == "COMPLETED", timeout=120, what="the resumed fraud check")
    with session_scope(stack.db_url) as session:  # type: ignore[attr-defined]
        actors = session.scalars(select(FraudDecision.actor).where(FraudDecision.claim_id == case)).all()
    assert actors.count("analyst:Ana") == 1, actors  # decided once, though the run replayed from the top


def test_a_dead_receiver_is_started_again_and_one_that_keeps_dying_stops_the_stack(stack: UpProcess):
    import os
    import signal

    from deployments.up import RESTARTS, answers

    first = stack.services()
    port = stack.env["AGENTFLOWS_WEBHOOK_PORT"]

    def restarted(previous: int) -> int | None:
        """The receiver's new pid once `up` started it again (None meanwhile, or once `up` has stopped)."""
        if stack.process.poll() is not None or not (stack.data_dir / "up.json").exists():
            return None
        pid = stack.services()["webhooks"]
        return pid if pid != previous else None

    os.kill(first["webhooks"], signal.SIGKILL)
    pid = wait_for(lambda: restarted(first["webhooks"]), timeout=60, what="up to start the receiver again")
    assert "webhooks (pid" in stack.text and "exited with code -9" in stack.text and "started it again" in stack.text
    wait_for(lambda: answers(f"http://127.0.0.1:{port}/healthz"), timeout=60, what="the new receiver to answer")
    assert stack.services()["runner"] == first["runner"], "the rest of the stack kept running"
    test_landing_form_gets_its_plan_within_wait(stack)  # the new receiver serves a visitor

    for _ in range(RESTARTS):  # one that keeps dying: after RESTARTS restarts within the window, up stops
        os.kill(pid, signal.SIGKILL)
        wait_for(lambda old=pid: restarted(old) or stack.process.poll() is not None, timeout=60, what="up to notice")
        if stack.process.poll() is not None:
            break
        pid = stack.services()["webhooks"]
    wait_for(lambda: stack.process.poll() is not None, timeout=60, what="up to give up and stop")
    assert stack.process.returncode == 1
    assert stack.text.count("started it again") == RESTARTS, stack.text[-3000:]
    for name in ("prefect-server", "runner"):
        wait_for(lambda pid=first[name]: not pid_alive(pid), timeout=30, what=f"{name} to be stopped")
