"""Secrets stay where they belong, and logs carry no personal data.

Every secret-bearing setting gets a distinctive sentinel (OpenAI and Anthropic keys, the three
webhook secrets, the SMTP password, database passwords). Then every flow runs on the session's
Prefect server with the agents pointed at the local fake provider through the real SDKs:
prospect outreach (one draft approved and emailed over SMTP with AUTH, one rejected), the
prospect batch, fraud checks (one cleared, one paused for review and decided), a fraud sweep, a
fan-out with its chunk run and a landing plan; signed deliveries reach the webhook receiver; and
things fail: a provider answering 401, a provider that reflects the credential it received in its
error body (the fraud check and the landing plan under it), and a project database that is down.

Afterwards everything those runs produced is scanned for each sentinel, raw and encoded (URL, hex,
base64 at every alignment, the webhook secrets' decoded keys): Prefect logs, artifacts, flow and task
run records with their state histories and run inputs, the Prefect server's database files, persisted
results, every table and column of the project database and its files, files written under the data
directories, log records (caplog) and stderr, model request bodies, sent emails, webhook answers and
the exceptions raised. The places a secret may be are checked separately, to prove it was used: the
fake provider's auth headers, the SMTP server's AUTH exchange, the webhook signatures it verified.

Logs must also never carry a CRM contact's email or a claim's message: both are checked in the
Prefect logs of the runs, the log records and stderr, and both are shown to be present where they
belong (the sent email, the review artifact, the model's prompt), so the check means something.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import io
import json
import logging
import os
import secrets
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote
from uuid import uuid4

import httpx
import pytest
from sqlalchemy import create_engine, inspect, select, text
from standardwebhooks import Webhook

from agentflows.db import session_scope
from agentflows.db.crm import Account, Contact
from agentflows.db.fraud import CheckStatus, ClaimCheck
from agentflows.prefect_server import free_port
from agentflows.settings import get_settings
from agents.catalog import clear_agent_caches
from tests.conftest import _SESSION_DIR
from tests.fraud.builders import Shop
from tests.fraud.conftest import template_dir  # noqa: F401  (fixture, used through usefixtures)
from tests.helpers import flow_run_state, pending_by_contact, run_in_background, wait_for
from tests.triggers.conftest import live_receiver, trigger_deployments  # noqa: F401  (fixture as above)

pytestmark = pytest.mark.e2e

PROJECT_DIR = Path(__file__).resolve().parents[2]

# --- the sentinels --------------------------------------------------------------------------------


def _token() -> str:
    return secrets.token_hex(8)  # 16 hex characters: never in the data by chance


def _whsec(label: str) -> tuple[str, bytes]:
    key = f"SENTINEL-whsec-{label}-{_token()}".encode()
    return "whsec_" + base64.b64encode(key).decode(), key


@dataclass(frozen=True)
class Sentinels:
    openai_key: str = field(default_factory=lambda: f"sk-SENTINEL-openai-{_token()}")
    anthropic_key: str = field(default_factory=lambda: f"sk-ant-SENTINEL-anthropic-{_token()}")
    whsec_crm: tuple[str, bytes] = field(default_factory=lambda: _whsec("crm"))
    whsec_crm_old: tuple[str, bytes] = field(default_factory=lambda: _whsec("crm-old"))
    whsec_shop: tuple[str, bytes] = field(default_factory=lambda: _whsec("shop"))
    whsec_landing: tuple[str, bytes] = field(default_factory=lambda: _whsec("landing"))
    smtp_password: str = field(default_factory=lambda: f"SENTINEL-smtp-{_token()}")
    db_password: str = field(default_factory=lambda: f"SENTINEL-db-{_token()}")
    prefect_db_password: str = field(default_factory=lambda: f"SENTINEL-prefectdb-{_token()}")

    def values(self) -> dict[str, bytes]:
        """Every secret by name, as bytes (a webhook secret also by its decoded HMAC key)."""
        out: dict[str, bytes] = {}
        for name, value in vars(self).items():
            if isinstance(value, tuple):
                out[name] = value[0].encode()
                out[f"{name} (decoded key)"] = value[1]
            else:
                out[name] = value.encode()
        return out


def encodings(value: bytes) -> dict[str, bytes]:
    """The forms a secret could take inside stored data."""
    forms = {"raw": value, "url-encoded": quote(value.decode(), safe="").encode(), "hex": value.hex().encode()}
    for i in range(3):  # base64 of a larger blob contains the base64 of the 3-aligned part of the value
        part = value[i:]
        part = part[: len(part) - len(part) % 3]
        forms[f"base64@{i}"] = base64.b64encode(part)
        forms[f"urlsafe-base64@{i}"] = base64.urlsafe_b64encode(part)
    token = value.rsplit(b"-", 1)[-1]  # the random part alone: a truncated or partly masked copy
    if len(token) == 16:
        forms["random part"] = token
    return forms


class Scanner:
    """Searches blobs for every form of every sentinel; remembers each place it found one."""

    def __init__(self, sentinels: Sentinels) -> None:
        self.needles = [
            (name, form, needle)
            for name, value in sentinels.values().items()
            for form, needle in encodings(value).items()
        ]
        self.found: dict[tuple[str, str], tuple[list[str], str]] = {}  # (place, secret) -> (forms, context)
        self.scanned: dict[str, list[int]] = {}  # kind of place -> [items, bytes]

    @property
    def findings(self) -> list[str]:
        return [
            f"{secret} ({', '.join(forms)}) in {place}: ...{context!r}..."
            for (place, secret), (forms, context) in sorted(self.found.items())
        ]

    def scan(self, where: str, data: str | bytes, kind: str | None = None) -> None:
        blob = data.encode(errors="replace") if isinstance(data, str) else data
        totals = self.scanned.setdefault(kind or where, [0, 0])
        totals[0] += 1
        totals[1] += len(blob)
        for name, form, needle in self.needles:
            at = blob.find(needle)
            if at >= 0:
                context = blob[max(0, at - 60) : at + len(needle) + 20].decode(errors="replace")
                self.found.setdefault((where, name), ([], context))[0].append(form)

    def scan_file(self, path: Path, kind: str) -> None:
        with contextlib.suppress(FileNotFoundError, IsADirectoryError, PermissionError):  # gone since listed
            self.scan(f"{kind}: {path}", path.read_bytes(), kind)

    def coverage(self) -> str:
        return "; ".join(f"{kind}: {n} items, {size:,} bytes" for kind, (n, size) in sorted(self.scanned.items()))

    def report(self) -> str:
        places = sorted({place for place, _ in self.found})
        return (
            f"secrets found in {len(places)} places where they must not be:\n"
            + "\n".join(self.findings)
            + f"\n(scanned: {self.coverage()})"
        )


# --- the fake provider, recording auth headers, and failing on demand ------------------------------


class ProviderGate:
    """An ASGI wrapper around the fake provider: records each request's auth headers and can fail.

    mode `ok`: pass through. `401`: the provider's authentication error, the key masked the way
    OpenAI does (first 8 and last 4 characters). `reflect`: a 500 whose body repeats the credential
    the request carried, as a misbehaving proxy or gateway may; no secret must travel on from there.
    """

    def __init__(self, app: Any) -> None:
        self.app = app
        self.mode = "ok"
        self.auth: list[dict[str, str]] = []
        self.bodies: list[bytes] = []  # of the requests answered here (the others are in `fp.app.requests`)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"].startswith("/_control"):
            await self.app(scope, receive, send)
            return
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        self.auth.append({k: v for k, v in headers.items() if k in ("authorization", "x-api-key")})
        credential = headers.get("x-api-key") or headers.get("authorization", "").removeprefix("Bearer ")
        anthropic = scope["path"].endswith("/messages")
        if self.mode == "ok":
            await self.app(scope, receive, send)
            return
        if self.mode == "401":
            status = 401
            message = f"Incorrect API key provided: {credential[:8]}{'*' * 20}{credential[-4:]}."
            kind = "authentication_error" if anthropic else "invalid_request_error"
        else:
            status = 500
            message = f"upstream refused the request; credentials received: {dict(headers)}"
            kind = "api_error" if anthropic else "server_error"
        body = (
            {"type": "error", "error": {"type": kind, "message": message}}
            if anthropic
            else {"error": {"message": message, "type": kind, "param": None, "code": None}}
        )
        body_bytes = b""
        while True:  # read the request before answering
            message = await receive()
            body_bytes += message.get("body", b"")
            if not message.get("more_body"):
                break
        self.bodies.append(body_bytes)
        payload = json.dumps(body).encode()
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(b"content-type", b"application/json"), (b"x-should-retry", b"false")],
            }
        )
        await send({"type": "http.response.body", "body": payload})


@dataclass
class Provider:
    fp: Any
    gate: ProviderGate


@pytest.fixture
def provider() -> Iterator[Provider]:
    from agentflows_fake_provider import FakeProvider, FaultConfig

    from tests.providers.responders import offline_responder

    fp = FakeProvider(responder=offline_responder, faults=FaultConfig(retry_after_s=0.05))
    gate = ProviderGate(fp.app.asgi)
    fp.app.asgi = gate  # wrapped before start: uvicorn serves the gate
    with fp:
        yield Provider(fp, gate)
    get_settings.cache_clear()
    clear_agent_caches()


# --- an SMTP server that requires AUTH (so the password is really sent) ------------------------------


@dataclass
class AuthSmtp:
    url: str
    password: str
    logins: list[tuple[bytes, bytes]] = field(default_factory=list)
    messages: list[bytes] = field(default_factory=list)


@pytest.fixture
def auth_smtp(sentinels: Sentinels) -> Iterator[AuthSmtp]:
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult

    port = free_port()
    sink = AuthSmtp(url=f"smtp://outreach:{sentinels.smtp_password}@127.0.0.1:{port}", password=sentinels.smtp_password)
    lock = threading.Lock()

    def authenticator(server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
        with lock:
            sink.logins.append((auth_data.login, auth_data.password))
        return AuthResult(success=auth_data.password == sentinels.smtp_password.encode())

    class Handler:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            if not session.authenticated:
                return "530 Authentication required"
            with lock:
                sink.messages.append(envelope.original_content or envelope.content)
            return "250 Message accepted for delivery"

    controller = Controller(
        Handler(), hostname="127.0.0.1", port=port, authenticator=authenticator, auth_require_tls=False
    )
    controller.start()
    yield sink
    controller.stop()


# --- the environment: sentinels everywhere, the provider behind every agent ---------------------------


@pytest.fixture
def sentinels() -> Sentinels:
    return Sentinels()


def point_agents_at(mp: pytest.MonkeyPatch, fp: Any, retries: int, model: str = "gpt-4o-mini") -> None:
    """Every API the project speaks, each used by some agent role: Chat Completions, Responses, Messages.

    Each phase names its default model differently, so no agent built for an earlier phase (and event
    loop) is reused whatever an agent factory caches.
    """
    mp.setenv("AGENTFLOWS_MODEL", f"openai-compatible:{model}@{fp.openai_base_url}")
    mp.setenv("AGENTFLOWS_AGENT_MODELS__WRITER", "openai:gpt-4o-mini")
    mp.setenv("AGENTFLOWS_AGENT_MODELS__FRAUD_SIGNALS", "anthropic:claude-fake")
    mp.setenv("AGENTFLOWS_AGENT_MODELS__FRAUD_ORCHESTRATOR", "anthropic:claude-fake")
    mp.setenv("AGENTFLOWS_OPENAI_BASE_URL", fp.openai_base_url)
    mp.setenv("AGENTFLOWS_ANTHROPIC_BASE_URL", fp.anthropic_base_url)
    mp.setenv("AGENTFLOWS_MODEL_REQUEST_RETRIES", str(retries))
    mp.setenv("AGENTFLOWS_MODEL_REQUEST_TIMEOUT_S", "10")
    get_settings.cache_clear()
    clear_agent_caches()


def secret_env(s: Sentinels, smtp: AuthSmtp) -> dict[str, str]:
    return {
        "AGENTFLOWS_OPENAI_API_KEY": s.openai_key,
        "AGENTFLOWS_ANTHROPIC_API_KEY": s.anthropic_key,
        "AGENTFLOWS_WEBHOOK_SECRET_CRM": f"{s.whsec_crm[0]},{s.whsec_crm_old[0]}",
        "AGENTFLOWS_WEBHOOK_SECRET_SHOP": s.whsec_shop[0],
        "AGENTFLOWS_WEBHOOK_SECRET_LANDING": s.whsec_landing[0],
        "AGENTFLOWS_SMTP_URL": smtp.url,
        "AGENTFLOWS_PREFECT_DATABASE_URL": (
            f"postgresql+asyncpg://prefect:{s.prefect_db_password}@127.0.0.1:{free_port()}/prefect"
        ),
    }


@pytest.fixture
def log_masking() -> Iterator[None]:
    """The test installs the masking like `agentflows run` does; later tests find logging as it was."""
    from agentflows import redaction

    was_installed = redaction.installed()
    yield
    if not was_installed:
        redaction.uninstall()


# --- capturing stderr: fd 2, sys.stderr, and Prefect's console handlers (which keep their own stream) ---


class Tee(io.TextIOBase):
    def __init__(self, original: Any, copy: io.StringIO) -> None:
        self.original, self.copy = original, copy

    def write(self, data: str) -> int:
        self.copy.write(data)
        return self.original.write(data)

    def flush(self) -> None:
        self.original.flush()


@pytest.fixture
def console_copy(monkeypatch: pytest.MonkeyPatch) -> io.StringIO:
    from prefect.logging.handlers import PrefectConsoleHandler

    copy = io.StringIO()
    loggers = [logging.getLogger()] + [logging.getLogger(n) for n in list(logging.root.manager.loggerDict)]
    for handler in {h for lg in loggers if isinstance(lg, logging.Logger) for h in lg.handlers}:
        if isinstance(handler, PrefectConsoleHandler):
            monkeypatch.setattr(handler.console, "file", Tee(handler.console.file, copy))
    return copy


# --- reading back what the runs left in Prefect ------------------------------------------------------


def api_pages(api: str, path: str, body: dict[str, Any]) -> list[dict[str, Any]]:
    """Every row of a Prefect `/filter` endpoint, page by page."""
    rows: list[dict[str, Any]] = []
    with httpx.Client(base_url=api, timeout=60) as client:
        while True:
            page = client.post(path, json=body | {"limit": 200, "offset": len(rows)})
            page.raise_for_status()
            batch = page.json()
            rows += batch
            if len(batch) < 200:
                return rows


def scan_prefect(api: str, since: datetime, scanner: Scanner) -> dict[str, Any]:
    """Logs, flow runs (with state history and run inputs), task runs and artifacts since `since`."""
    after = {"after_": since.isoformat()}
    logs = api_pages(api, "/logs/filter", {"logs": {"timestamp": after}, "sort": "TIMESTAMP_ASC"})
    for row in logs:
        scanner.scan(f"prefect log {row.get('flow_run_id')} {row['message'][:60]!r}", json.dumps(row), "prefect logs")
    runs = api_pages(api, "/flow_runs/filter", {"flow_runs": {"expected_start_time": after}})
    ids = [r["id"] for r in runs]
    with httpx.Client(base_url=api, timeout=60) as client:
        for run in runs:
            scanner.scan(f"flow run {run['name']} ({run['id']})", json.dumps(run), "flow runs")
            states = client.get("/flow_run_states/", params={"flow_run_id": run["id"]}).json()
            scanner.scan(f"state history of flow run {run['name']}", json.dumps(states), "flow runs")
            inputs = client.post(f"/flow_runs/{run['id']}/input/filter", json={"prefix": "", "limit": 100}).json()
            scanner.scan(f"run inputs of flow run {run['name']}", json.dumps(inputs), "flow runs")
    tasks = api_pages(api, "/task_runs/filter", {"task_runs": {"flow_run_id": {"any_": ids}}}) if ids else []
    for task in tasks:
        scanner.scan(f"task run {task['name']} ({task['id']})", json.dumps(task), "task runs")
    artifacts = api_pages(api, "/artifacts/filter", {"artifacts": {"flow_run_id": {"any_": ids}}}) if ids else []
    for artifact in artifacts:
        scanner.scan(f"artifact {artifact.get('key')} ({artifact['id']})", json.dumps(artifact), "artifacts")
    return {"logs": logs, "runs": runs, "tasks": tasks, "artifacts": artifacts}


def scan_project_db(url: str, scanner: Scanner) -> str:
    """Every table and column of the project database, dumped as text (also returned)."""
    engine = create_engine(url)
    dump: list[str] = []
    with engine.connect() as conn:
        for table in inspect(conn).get_table_names():
            for row in conn.execute(text(f'SELECT * FROM "{table}"')).mappings():
                line = f"{table}: " + json.dumps({k: str(v) for k, v in row.items()})
                dump.append(line)
                scanner.scan(f"project db table {table}", line, "project database")
    engine.dispose()
    return "\n".join(dump)


def scan_files(root: Path, since: float, scanner: Scanner, kind: str) -> int:
    count = 0
    for path in root.rglob("*") if root.exists() else []:
        if path.is_file() and path.stat().st_mtime >= since:
            scanner.scan_file(path, kind)
            count += 1
    return count


def contact_and_domain(contact_id: int) -> tuple[str, str]:
    with session_scope() as session:
        contact = session.get(Contact, contact_id)
        assert contact is not None
        account = session.get(Account, contact.account_id)
        assert account is not None
        return contact.email, account.domain


def outcome_text(value: Any) -> str:
    if isinstance(value, BaseException):
        return "".join(traceback.format_exception(value))
    return value.model_dump_json() if hasattr(value, "model_dump_json") else repr(value)


def signed(secret: str, body: bytes) -> dict[str, str]:
    msg_id, at = f"msg_{uuid4().hex}", datetime.now(UTC)
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": Webhook(secret).sign(msg_id, at, body.decode()),
        "content-type": "application/json",
    }


def session_row(case: int) -> ClaimCheck | None:
    with session_scope() as session:
        return session.scalar(select(ClaimCheck).where(ClaimCheck.claim_id == case))


def paused_case(bg: Any, case: int) -> bool:
    bg.check()
    row = session_row(case)
    return row is not None and row.status == CheckStatus.AWAITING_REVIEW and flow_run_state(row.flow_run_id) == "PAUSED"


# --- the test ------------------------------------------------------------------------------------------

BENIGN_MESSAGE = "Hello, my blue teapot from Larkspur Mews has not arrived yet; could you check the tracking?"
RISKY_MESSAGE = (
    "If you do not refund me within 24 hours I will do a chargeback and leave bad reviews everywhere. "
    "Refund now for Ottoline Quarrington at Fennimore Court."
)
SWEEP_MESSAGE = "My parcel with the walnut chessboard is late, any news from the courier at Pemberton Yard?"
FANOUT_MESSAGE = "The copper kettle sent to the Quayside Lantern cafe arrived dented, can I get a refund?"
REFLECT_MESSAGE = "The brass compass for Ignatius Fairweather never came, please look into it."


@pytest.mark.usefixtures("template_dir", "trigger_deployments", "log_masking")
def test_secrets_stay_in_their_place_and_logs_carry_no_personal_data(
    prefect_server: str,
    seeded_db: str,
    provider: Provider,
    auth_smtp: AuthSmtp,
    sentinels: Sentinels,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
    console_copy: io.StringIO,
    tmp_path: Path,
) -> None:
    from prefect import flow, get_run_logger
    from prefect.logging.handlers import APILogWorker

    from agentflows.approvals import approval_input, pending_approvals, submit
    from agentflows.prefect_env import configure_prefect_env, prefect_env
    from agents.landing.plan import Visitor
    from flows.fraud_check import fraud_check
    from flows.fraud_fanout import fraud_claims, fraud_fanout
    from flows.fraud_sweep import fraud_sweep
    from flows.landing_plan import landing_plan
    from flows.prospect_batch import prospect_batch
    from flows.prospect_outreach import prospect_outreach
    from tasks.crm import pick_demo_prospects
    from tasks.fraud.review import review_input, submit_review

    started_at = datetime.now(UTC)
    started_wall = time.time() - 1
    for key, value in secret_env(sentinels, auth_smtp).items():
        monkeypatch.setenv(key, value)
    point_agents_at(monkeypatch, provider.fp, retries=2)
    monkeypatch.setenv("PREFECT_UI_URL", prefect_server.removesuffix("/api"))
    assert prefect_env() == {}, "configure_prefect_env must not repoint this session's Prefect client"
    configure_prefect_env()  # what `agentflows run`, `up` and `serve` do first: installs log masking
    caplog.set_level(logging.INFO)
    caplog.set_level(logging.INFO, logger="prefect")
    outcomes: dict[str, Any] = {}

    # --- the healthy runs: every flow, concurrently where the story allows ---------------------------------
    shop = Shop()
    c1 = shop.customer(last_name="Quill")
    benign = shop.claim(shop.order(c1, shop.address("1 Station Road", customer=c1)), message=BENIGN_MESSAGE)
    shop.fraud_address("12 Baker Street, Flat 4")
    c2 = shop.customer(last_name="Yew")
    risky = shop.claim(shop.order(c2, shop.address("Flat 4, 12 Baker Street")), message=RISKY_MESSAGE)
    c3 = shop.customer(last_name="Ember")
    swept = shop.claim(shop.order(c3, shop.address("5 Elm Road", customer=c3)), message=SWEEP_MESSAGE)

    approved, rejected = pick_demo_prospects()[:2]
    approved_email, domain = contact_and_domain(approved)
    visitor = Visitor(
        company="Larkspur Trading",
        role="Head of Marketing",
        email=f"ottilie.visitor@{domain}",
        website=f"https://{domain}/",
        goals="Grow repeat orders from grocery chains.",
    )

    outreach = run_in_background(lambda: prospect_outreach([approved, rejected]))
    checks = {case: run_in_background(lambda case=case: fraud_check(case)) for case in (benign, risky)}
    landing = run_in_background(lambda: landing_plan(visitor))

    pending = wait_for(
        lambda: outreach.check() or ((p := pending_by_contact([approved, rejected])) and len(p) == 2 and p),
        timeout=120,
        what="two paused outreach approvals",
    )
    batch = run_in_background(lambda: prospect_batch(limit=1))  # picks a third account: the others wait
    wait_for(lambda: paused_case(checks[risky], risky), timeout=90, what="the risky claim to pause for its analyst")
    wait_for(lambda: checks[benign].check() or session_row(benign), timeout=90, what="the benign claim's check")
    sweep = run_in_background(lambda: fraud_sweep(limit=10))  # only the claim nobody checked yet

    def batch_pending() -> list[Any]:
        return [p for p in asyncio.run(pending_approvals()) if p.contact_id not in (approved, rejected)]

    extra = wait_for(
        lambda: batch.check() or batch_pending() or not batch.thread.is_alive(), timeout=120, what="the batch's draft"
    )
    first = pending[approved].flow_run_id
    asyncio.run(submit(first, approval_input(first, variant=1, reviewer="Dana")))
    asyncio.run(
        submit(
            pending[rejected].flow_run_id,
            approval_input(pending[rejected].flow_run_id, variant=None, reviewer="Kim", note="later", reject=True),
        )
    )
    for p in extra if isinstance(extra, list) else []:
        asyncio.run(submit(p.flow_run_id, approval_input(p.flow_run_id, variant=None, reviewer="Lee", reject=True)))
    asyncio.run(submit_review(*review_input(risky, "confirm fraud", "Dana", "same drop address as last week")))

    outcomes["prospect-outreach"] = outreach.join(120)
    outcomes["prospect-batch"] = batch.join(120)
    outcomes["fraud-check benign"] = checks[benign].join(90)
    outcomes["fraud-check risky"] = checks[risky].join(90)
    outcomes["fraud-sweep"] = sweep.join(90)
    outcomes["landing-plan"] = landing.join(90)
    assert [o.outcome for o in outcomes["prospect-outreach"].outcomes] == ["sent", "rejected"]
    assert [o.outcome for o in outcomes["prospect-batch"].outcomes] == ["rejected"], "the batch drafted one"
    assert (outcomes["fraud-check benign"].outcome, outcomes["fraud-check risky"].outcome) == (
        "cleared",
        "confirmed_fraud",
    )
    assert outcomes["fraud-sweep"].counts == {"cleared": 1} and outcomes["fraud-sweep"].items[0].case_id == swept
    assert outcomes["landing-plan"].company

    # the fan-out deals a claim to a `fraud-claims` deployment run; a worker would run it: here, in-process
    c5 = shop.customer(last_name="Hollis")
    fanned = shop.claim(shop.order(c5, shop.address("2 Quay Street", customer=c5)), message=FANOUT_MESSAGE)
    outcomes["fraud-fanout"] = asyncio.run(fraud_fanout(limit=10, chunks=1))
    assert outcomes["fraud-fanout"].selected == 1 and len(outcomes["fraud-fanout"].chunk_runs) == 1
    outcomes["fraud-claims"] = asyncio.run(fraud_claims([fanned]))
    assert outcomes["fraud-claims"].counts == {"cleared": 1}

    # --- a flow that does log an email and a key: what reaches the Prefect server is masked ------------------
    @flow(name="log-masking-probe")
    def log_masking_probe() -> None:
        get_run_logger().warning(
            "probe: mail to %s with key %s via %s", approved_email, sentinels.openai_key, auth_smtp.url
        )

    log_masking_probe()

    # --- the webhook receiver, verifying deliveries signed with the sentinel secrets -------------------
    answers = []
    secrets_env = {k: v for k, v in secret_env(sentinels, auth_smtp).items() if "WEBHOOK_SECRET" in k}
    with live_receiver(seeded_db, AGENTFLOWS_WEBHOOK_ANSWER_WITHIN_S="10", **secrets_env) as live:
        deliveries = [
            ("/webhooks/crm/prospects-selected", sentinels.whsec_crm[0], {"contact_ids": [approved]}, 202),
            ("/webhooks/crm/prospects-selected", sentinels.whsec_crm_old[0], {"contact_ids": [rejected]}, 202),
            ("/webhooks/shop/claim-opened", sentinels.whsec_shop[0], {"claim_id": benign}, 202),
            ("/webhooks/landing/form-submitted", sentinels.whsec_landing[0], visitor.model_dump(), 202),
            ("/webhooks/shop/claim-opened", "whsec_" + base64.b64encode(b"x" * 32).decode(), {"claim_id": 1}, 401),
        ]
        for path, secret, payload, status in deliveries:
            body = json.dumps(payload).encode()
            answer = live.post(path, body, signed(secret, body))
            assert answer.status_code == status, (path, answer.status_code, answer.text)
            answers.append(f"{answer.status_code} {dict(answer.headers)} {answer.text}")

    # --- failures: a provider refusing the key, one reflecting it, a database that is down ----------------
    point_agents_at(monkeypatch, provider.fp, retries=0, model="gpt-4o-mini-refused")
    failures: dict[str, BaseException] = {}
    provider.gate.mode = "401"
    visitor_401 = visitor.model_copy(update={"goals": "Failure path one: the provider refuses the key."})
    with pytest.raises(Exception) as refused:
        asyncio.run(landing_plan(visitor_401))
    failures["landing-plan, provider 401"] = refused.value
    assert "status_code: 401" in outcome_text(refused.value)

    point_agents_at(monkeypatch, provider.fp, retries=0, model="gpt-4o-mini-reflected")
    provider.gate.mode = "reflect"
    c4 = shop.customer(last_name="Fairweather")
    reflected_case = shop.claim(shop.order(c4, shop.address("9 Mill Lane", customer=c4)), message=REFLECT_MESSAGE)
    reflected = run_in_background(lambda: fraud_check(reflected_case))
    wait_for(lambda: paused_case(reflected, reflected_case), timeout=90, what="the failed-agents case to pause")
    asyncio.run(submit_review(*review_input(reflected_case, "not fraud", "Dana", "provider was down")))
    outcomes["fraud-check, provider reflecting credentials"] = reflected.join(90)
    visitor_reflect = visitor.model_copy(update={"goals": "Failure path two: the provider reflects credentials."})
    with pytest.raises(Exception) as reflecting:
        asyncio.run(landing_plan(visitor_reflect))
    failures["landing-plan, provider reflecting credentials"] = reflecting.value
    assert "status_code: 500" in outcome_text(reflecting.value)
    reflected_check = outcomes["fraud-check, provider reflecting credentials"]
    assert (reflected_check.decision, reflected_check.outcome) == ("review", "not_fraud"), "agents failed: review"
    provider.gate.mode = "ok"

    down = f"postgresql+psycopg://agentflows:{sentinels.db_password}@127.0.0.1:{free_port()}/agentflows"
    monkeypatch.setenv("AGENTFLOWS_DATABASE_URL", down)
    get_settings.cache_clear()
    with pytest.raises(Exception) as db_down:
        asyncio.run(landing_plan(visitor.model_copy(update={"goals": "Failure path three: the database is down."})))
    failures["landing-plan, database down"] = db_down.value
    monkeypatch.setenv("AGENTFLOWS_DATABASE_URL", seeded_db)
    get_settings.cache_clear()
    assert "psycopg" in outcome_text(db_down.value) or "OperationalError" in outcome_text(db_down.value)

    # --- the places a secret belongs: prove each sentinel was really used ------------------------------
    seen = provider.gate.auth
    assert any(h.get("authorization") == f"Bearer {sentinels.openai_key}" for h in seen), "OpenAI key was sent"
    # anthropic 1.x sent `x-api-key`; 2.x sends the key as a bearer token.
    anthropic_headers = ("x-api-key", sentinels.anthropic_key), ("authorization", f"Bearer {sentinels.anthropic_key}")
    assert any(h.get(name) == value for h in seen for name, value in anthropic_headers), "Anthropic key was sent"
    assert (b"outreach", sentinels.smtp_password.encode()) in auth_smtp.logins, "the SMTP password was sent"
    assert len(auth_smtp.messages) == 1, "exactly the approved email was sent, after AUTH"
    assert [a.split(" ", 1)[0] for a in answers] == ["202", "202", "202", "202", "401"], "signatures verified"

    # --- scan everything the runs produced ----------------------------------------------------------------
    APILogWorker.drain_all(timeout=10, at_exit=False)  # ship the last log batch to the server
    time.sleep(0.5)
    scanner = Scanner(sentinels)
    prefect = scan_prefect(prefect_server, started_at, scanner)
    for path in sorted((_SESSION_DIR / "prefect-server").rglob("*")):
        if path.is_file():
            scanner.scan_file(path, "prefect server files")
    results_dir = Path(os.environ["PREFECT_LOCAL_STORAGE_PATH"])
    results = scan_files(results_dir, started_wall, scanner, "persisted results")
    dump = scan_project_db(seeded_db, scanner)
    scan_files(tmp_path, 0, scanner, "files under the test's directory")  # db, templates, proposals
    scan_files(get_settings().data_dir, started_wall, scanner, "files under the data directory")
    records = [logging.Formatter("%(name)s %(levelname)s %(message)s").format(r) for r in caplog.records]
    for i, line in enumerate(records):
        scanner.scan(f"log record {i}: {line[:80]!r}", line, "log records")
    out, err = capfd.readouterr()
    scanner.scan("stdout", out)
    scanner.scan("stderr", err)
    scanner.scan("stderr (Prefect console handler)", console_copy.getvalue())
    for i, request in enumerate(provider.fp.app.requests):
        scanner.scan(f"model request body {i}", json.dumps(request.raw), "model request bodies")
    for i, body in enumerate(provider.gate.bodies):
        scanner.scan(f"model request body {i} (failure phase)", body, "model request bodies")
    for i, message in enumerate(auth_smtp.messages):
        scanner.scan(f"sent email {i}", message, "sent emails")
    for i, answer in enumerate(answers):
        scanner.scan(f"webhook answer {i}", answer, "webhook answers")
    for name, value in outcomes.items():
        scanner.scan(f"return value of {name}", outcome_text(value), "flow return values")
    for name, exc in failures.items():
        scanner.scan(f"exception raised by {name}", outcome_text(exc), "exceptions")

    # --- the checks mean something: the scan saw the runs, and the personal data is where it belongs -------
    assert results > 0 and len(prefect["logs"]) > 20 and len(prefect["tasks"]) > 50 and prefect["artifacts"]
    assert len(caplog.records) > 20 and console_copy.getvalue(), "the log scan saw the runs' logs"
    sent = auth_smtp.messages[0].decode()
    assert f"To: {approved_email}" in sent, "the email is where it belongs: the sent message"
    review = "\n".join(str(a.get("data")) for a in prefect["artifacts"])
    assert "Ottoline Quarrington at Fennimore Court" in review, "the claim is where it belongs: the review artifact"
    prompts = "\n".join(json.dumps(r.raw) for r in provider.fp.app.requests)
    assert "Larkspur Mews" in prompts and "Pemberton Yard" in prompts, "...and in the model's prompt"
    assert approved_email in dump and "Ottoline Quarrington" in dump, "...and in the project database"
    probe = next(row["message"] for row in prefect["logs"] if row["message"].startswith("probe: mail to"))
    masked_email = f"{approved_email[0]}***@{approved_email.rsplit('@', 1)[1]}"
    assert probe == f"probe: mail to {masked_email} with key *** via smtp://outreach:***@{auth_smtp.url.split('@')[1]}"

    # --- personal data never in logs; secrets nowhere but where they belong -----------------------------------
    api_logs = "\n".join(row["message"] for row in prefect["logs"])
    local_logs = "\n".join(records) + err + console_copy.getvalue()
    personal = {
        "the approved contact's email": approved_email,
        "the landing visitor's email": visitor.email,
        "a claim's message": RISKY_MESSAGE,
        "a claim's message (a distinctive part)": "Ottoline Quarrington",
        "a cleared claim's message (a distinctive part)": "Larkspur Mews",
        "a swept claim's message (a distinctive part)": "Pemberton Yard",
        "a fanned-out claim's message (a distinctive part)": "Quayside Lantern",
    }
    places = {"Prefect logs": api_logs, "log records and stderr": local_logs}
    leaks = [
        f"{what} in {where}" for what, value in personal.items() for where, text in places.items() if value in text
    ]
    problems = ([scanner.report()] if scanner.findings else []) + (
        ["personal data in logs: " + "; ".join(leaks)] if leaks else []
    )
    assert not problems, "\n\n".join(problems)


def test_every_process_that_runs_flows_masks_its_logs(tmp_path: Path) -> None:
    """Deployed runs execute in fresh processes (Prefect's runner and workers spawn them) that import the
    flow module and nothing else of ours: the masking must be active there too, not only in `agentflows run`."""
    probe = (
        "import logging, io\n"
        "import flows.fraud_check  # what a runner's or worker's flow-run process imports\n"
        "stream = io.StringIO()\n"
        "log = logging.getLogger('probe'); log.addHandler(logging.StreamHandler(stream)); log.setLevel(logging.INFO)\n"
        "log.info('contact %s key %s', 'jo.doe@example.com', 'sk-SENTINEL-probe-0123456789abcdef')\n"
        "print(stream.getvalue())\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("AGENTFLOWS_")}
    env |= {"AGENTFLOWS_DATA_DIR": str(tmp_path), "AGENTFLOWS_MODEL": "offline"}
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=PROJECT_DIR, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "jo.doe@example.com" not in done.stdout and "sk-SENTINEL-probe" not in done.stdout, (
        f"a flow process logs unmasked: {done.stdout.strip()!r}"
    )
    assert "j***@example.com" in done.stdout
