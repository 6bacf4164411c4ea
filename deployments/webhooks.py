"""The webhook receiver: signed deliveries from the CRM, the shop and the landing page -> flow runs.

Open-source Prefect has no webhook endpoint, so this small FastAPI app is the door in. A delivery
passes four gates, each with its own answer, and nothing is written before all have passed:

  1. size: at most `webhook_max_body_bytes`, enforced while reading the body        -> 413
  2. signature: Standard Webhooks (`webhook-id`, `webhook-timestamp`, `webhook-signature`,
     HMAC-SHA256, 5-minute window), verified on the raw bytes by the `standardwebhooks` library
     against every secret of the source (rotation)                                  -> 401
  3. payload: JSON validated by the source's pydantic model, extra fields ignored  -> 400 / 422
  4. idempotency: (source, webhook-id) is claimed in `webhook_deliveries` under a unique constraint
     before the run is created (with the delivery as Prefect's idempotency key); a copy of a
     delivery gets the same run and ticket, never a second run                    -> 202

The row is also a durable queue: the answer waits for Prefect at most `webhook_answer_within_s`,
then says `queued` with a status URL, and the run is created in order behind it (a burst above
what Prefect creates per second costs senders no timeouts and retries; a receiver that dies leaves
queued rows that the next receiver's recovery sweep starts).

Rejections are logged as one line with the reason and never the body, and payloads are never
logged at all: they carry personal data. Run: `agentflows up` (or `uvicorn deployments.webhooks:app`).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import random
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from secrets import token_hex
from typing import Annotated, Any, Literal, TypeVar
from uuid import UUID

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from agentflows.db import session_scope
from agentflows.db.base import utcnow
from agentflows.db.webhooks import DeliveryStatus, LandingPlan, WebhookDelivery
from agentflows.settings import Settings, get_settings
from agents.landing.plan import MarketingPlan, Visitor
from deployments import webhook_secrets

log = logging.getLogger("agentflows.webhooks")
PayloadT = TypeVar("PayloadT", bound=BaseModel)

OUTREACH = "prospect-outreach/on-demand"
FRAUD_CHECK = "fraud-check/on-demand"
LANDING_PLAN = "landing-plan/on-demand"
STALE_CLAIM = timedelta(seconds=60)  # an `accepted` row this old lost its receiver; a redelivery may take it over


# --- payloads (API schemas, apart from the tables) ------------------------------------------------

PositiveId = Annotated[int, Field(strict=True, gt=0)]


class ProspectsSelected(BaseModel):
    """The CRM: a rep selected these contacts for outreach."""

    model_config = ConfigDict(extra="ignore")
    contact_ids: list[PositiveId] = Field(min_length=1, max_length=500)


class ClaimOpened(BaseModel):
    """The shop: a customer opened this claim."""

    model_config = ConfigDict(extra="ignore")
    claim_id: PositiveId


class Accepted(BaseModel):
    """The answer to an accepted delivery; a redelivery of the same id gets the same run and ticket.

    `started`: the run exists (id and UI link). `queued`: Prefect is busy; the run will be created
    in order from the durable queue, and `status_url` answers with its id once it is.
    """

    delivery_id: str
    source: str
    deployment: str
    status: Literal["started", "queued"]
    flow_run_id: str | None
    flow_run_url: str | None
    status_url: str
    plan_url: str | None = None


class PlanAnswer(BaseModel):
    flow_run_id: str
    flow_run_url: str
    state: str
    plan: MarketingPlan | None = None


# --- the gates ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Delivery:
    """A delivery whose size and signature checked out; the body is not parsed yet."""

    source: str
    id: str
    body: bytes

    @property
    def digest(self) -> str:
        return hashlib.sha256(self.body).hexdigest()


def _printable(value: str | None) -> str:
    """A header value safe to put in a log line (attacker-controlled: no newlines, bounded)."""
    return repr((value or "-")[:80])


def rejected(status: int, source: str, delivery_id: str | None, reason: str, detail: Any) -> HTTPException:
    log.warning("rejected %s delivery %s: %s %s", source, _printable(delivery_id), status, reason)
    return HTTPException(status_code=status, detail=detail)


async def read_body(request: Request, source: str, limit: int) -> bytes:
    """The raw body, refusing to buffer more than `limit` bytes whatever Content-Length claims."""
    delivery_id = request.headers.get("webhook-id")
    declared = request.headers.get("content-length")
    too_large = f"body larger than {limit} bytes"
    if declared is not None and (not declared.isdigit() or int(declared) > limit):
        raise rejected(413, source, delivery_id, "oversize (declared)", too_large)
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise rejected(413, source, delivery_id, "oversize", too_large)
    return bytes(body)


def verify(source: str, verifiers: list[Webhook], body: bytes, headers: dict[str, str]) -> str:
    """The delivery id if any of the source's secrets signed this body; raises a 401 otherwise."""
    delivery_id = headers.get("webhook-id")
    if not verifiers:
        raise rejected(503, source, delivery_id, "no secret configured", f"webhook source {source!r} is not configured")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise rejected(400, source, delivery_id, "body is not UTF-8", "body must be UTF-8 JSON") from None
    reason = "no secret"
    for verifier in verifiers:
        try:
            verifier.verify(text, headers, json_parse=False)
        except (WebhookVerificationError, ValueError) as exc:  # ValueError: malformed signature header
            reason = str(exc) or type(exc).__name__
            continue
        assert delivery_id  # the library checked it is present
        if len(delivery_id) > 200:
            raise rejected(400, source, delivery_id, "webhook-id too long", "webhook-id longer than 200 characters")
        return delivery_id
    raise rejected(401, source, delivery_id, f"signature: {reason}", "invalid webhook signature")


def parse(model: type[PayloadT], delivery: Delivery) -> PayloadT:
    """The payload as `model`; 400 for malformed JSON, 422 with the field errors otherwise."""
    try:
        return model.model_validate_json(delivery.body)
    except ValidationError as exc:
        errors = exc.errors(include_url=False, include_input=False, include_context=False)
        if any(e["type"] == "json_invalid" for e in errors):
            raise rejected(400, delivery.source, delivery.id, "malformed JSON", "body is not valid JSON") from None
        fields = [{"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]} for e in errors]
        raise rejected(422, delivery.source, delivery.id, f"payload: {len(fields)} field errors", fields) from None


# --- idempotency and the dispatch queue: the deliveries table -------------------------------------


def claim_sync(delivery: Delivery, deployment: str, parameters: dict[str, Any]) -> tuple[bool, WebhookDelivery]:
    """(True, row) if this call now owns the delivery, else (False, the row someone else wrote)."""
    try:
        with session_scope() as session:
            row = WebhookDelivery(
                source=delivery.source,
                delivery_id=delivery.id,
                payload_sha256=delivery.digest,
                deployment=deployment,
                status=DeliveryStatus.ACCEPTED,
                ticket=token_hex(16),
                parameters=parameters,
            )
            session.add(row)
            session.flush()
            return True, row
    except IntegrityError:
        return False, read_sync(delivery)


def read_sync(delivery: Delivery) -> WebhookDelivery:
    with session_scope() as session:
        row = session.scalar(
            select(WebhookDelivery).where(
                WebhookDelivery.source == delivery.source, WebhookDelivery.delivery_id == delivery.id
            )
        )
    if row is None:  # only after a manual delete between our insert attempt and this read
        raise LookupError(f"delivery {delivery.source}:{delivery.id} vanished")
    return row


def by_ticket_sync(ticket: str) -> WebhookDelivery | None:
    with session_scope() as session:
        return session.scalar(select(WebhookDelivery).where(WebhookDelivery.ticket == ticket))


def is_stale(row: WebhookDelivery) -> bool:
    """Failed, or queued so long ago that its receiver must have died (a live one retries sooner)."""
    naive_updated = row.updated_at.replace(tzinfo=None)  # SQLite hands back naive UTC, PostgreSQL aware UTC
    return row.status == DeliveryStatus.FAILED or (
        row.status == DeliveryStatus.ACCEPTED and naive_updated < (utcnow() - STALE_CLAIM).replace(tzinfo=None)
    )


def take_over_sync(row: WebhookDelivery, parameters: dict[str, Any] | None = None) -> bool:
    """Claim a delivery whose first attempt failed or died; exactly one concurrent caller wins."""
    if not is_stale(row):
        return False
    values: dict[str, Any] = {"status": DeliveryStatus.ACCEPTED, "error": None, "updated_at": utcnow()}
    if parameters is not None:
        values["parameters"] = parameters
    if row.ticket is None:  # a row from before tickets existed
        values["ticket"] = token_hex(16)
    with session_scope() as session:
        result = session.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.id == row.id, WebhookDelivery.updated_at == row.updated_at)
            .values(**values)
        )
        return result.rowcount == 1


def abandoned_sync(limit: int = 500) -> list[WebhookDelivery]:
    """Queued deliveries whose receiver died before creating their run (the recovery sweep's work)."""
    cutoff = utcnow() - STALE_CLAIM
    with session_scope() as session:
        rows = session.scalars(
            select(WebhookDelivery)
            .where(WebhookDelivery.status == DeliveryStatus.ACCEPTED, WebhookDelivery.parameters.is_not(None))
            .order_by(WebhookDelivery.id)
            .limit(limit)
        ).all()
    return [r for r in rows if r.updated_at.replace(tzinfo=None) < cutoff.replace(tzinfo=None)]


def finish_sync(row_id: int, flow_run_id: str | None, error: str | None) -> None:
    """Record the outcome; once the run exists its parameters live in Prefect, not here."""
    values: dict[str, Any] = {
        "status": DeliveryStatus.STARTED if flow_run_id else DeliveryStatus.FAILED,
        "flow_run_id": flow_run_id,
        "error": error,
        "updated_at": utcnow(),
    }
    if flow_run_id:
        values["parameters"] = None
    with session_scope() as session:
        session.execute(update(WebhookDelivery).where(WebhookDelivery.id == row_id).values(**values))


def still_queued_sync(row_id: int, error: str) -> None:
    """A creation that keeps failing: note why and restart the stale clock, so the sweep retries it later."""
    with session_scope() as session:
        session.execute(
            update(WebhookDelivery).where(WebhookDelivery.id == row_id).values(error=error, updated_at=utcnow())
        )


def plan_sync(flow_run_id: str) -> MarketingPlan | None:
    with session_scope() as session:
        plan = session.scalar(select(LandingPlan.plan).where(LandingPlan.flow_run_id == flow_run_id))
    return MarketingPlan.model_validate(plan) if plan is not None else None


# --- starting runs ------------------------------------------------------------------------------


class Receiver:
    """Turns verified deliveries into flow runs through the Prefect API (one client per process).

    The answer waits for the run at most `webhook_answer_within_s`; a run Prefect has not created
    by then is left to the dispatcher (at most `webhook_dispatch_concurrency` creations at once,
    with retries), and the sender gets 202 `queued` with a status URL. Prefect's idempotency key
    (`webhook:<source>:<id>`) makes every path, including two receivers racing, create one run.
    """

    def __init__(self, client: Any, settings: Settings, secrets: dict[str, list[str]]) -> None:
        self.client = client
        self.settings = settings
        self.verifiers = {source: [Webhook(s) for s in values] for source, values in secrets.items()}
        self._deployment_ids: dict[str, UUID] = {}
        self._jobs: dict[int, asyncio.Task[str]] = {}  # delivery row id -> its run creation
        self._slots = asyncio.Semaphore(settings.webhook_dispatch_concurrency)

    def run_url(self, flow_run_id: str) -> str:
        from agentflows.prefect_env import prefect_ui_url

        return f"{prefect_ui_url()}/runs/flow-run/{flow_run_id}"

    async def deployment_id(self, name: str, refresh: bool = False) -> UUID:
        if refresh or name not in self._deployment_ids:
            self._deployment_ids[name] = (await self.client.read_deployment_by_name(name)).id
        return self._deployment_ids[name]

    async def create_run(self, source: str, delivery_id: str, deployment: str, parameters: dict[str, Any]) -> str:
        from prefect.exceptions import ObjectNotFound

        for refresh in (False, True):  # a re-created deployment has a new id: look it up once more
            try:
                run = await self.client.create_flow_run_from_deployment(
                    await self.deployment_id(deployment, refresh),
                    parameters=parameters,
                    idempotency_key=f"webhook:{source}:{delivery_id}",
                    tags=["webhook", f"webhook:{source}"],
                )
                return str(run.id)
            except ObjectNotFound:
                if refresh:
                    raise
        raise AssertionError("unreachable")

    def dispatch(self, row: WebhookDelivery, parameters: dict[str, Any]) -> asyncio.Task[str]:
        """The (single) job creating this row's run; started once per row per process."""
        job = self._jobs.get(row.id)
        if job is None:
            job = asyncio.create_task(
                self._create_and_record(row.id, row.source, row.delivery_id, row.deployment, parameters)
            )
            self._jobs[row.id] = job
            job.add_done_callback(lambda done, row_id=row.id: self._job_done(row_id, done))
        return job

    def _job_done(self, row_id: int, job: asyncio.Task[str]) -> None:
        self._jobs.pop(row_id, None)
        if not job.cancelled():
            job.exception()  # logged where it happened; retrieved here so asyncio does not report it again

    async def _create_and_record(
        self, row_id: int, source: str, delivery_id: str, deployment: str, parameters: dict[str, Any]
    ) -> str:
        """Create the run (retrying what a busy Prefect server throws), then record it on the row."""
        from prefect.exceptions import ObjectNotFound

        attempts = 5
        async with self._slots:
            for attempt in range(1, attempts + 1):
                try:
                    flow_run_id = await self.create_run(source, delivery_id, deployment, parameters)
                    break
                except Exception as exc:
                    error = f"{type(exc).__name__}: {exc}"[:500]
                    if isinstance(exc, ObjectNotFound):  # no such deployment: retrying cannot help
                        await asyncio.to_thread(finish_sync, row_id, None, error)
                        log.error(
                            "cannot start %s for %s delivery %s: %s", deployment, source, _printable(delivery_id), error
                        )
                        raise
                    if attempt == attempts:  # Prefect is overloaded or away: the row stays queued for the sweep
                        await asyncio.to_thread(still_queued_sync, row_id, error)
                        log.warning(
                            "could not start %s for %s delivery %s after %d attempts (%s); it stays queued and the "
                            "recovery sweep retries it",
                            deployment,
                            source,
                            _printable(delivery_id),
                            attempt,
                            type(exc).__name__,
                        )
                        raise
                    await asyncio.sleep(min(0.2 * 2**attempt, 5) * (0.5 + random.random()))
        await asyncio.to_thread(finish_sync, row_id, flow_run_id, None)
        log.info("accepted %s delivery %s -> %s run %s", source, _printable(delivery_id), deployment, flow_run_id)
        return flow_run_id

    async def recover(self) -> int:
        """Start the runs of deliveries a dead receiver queued but never created; returns how many."""
        rows = await asyncio.to_thread(abandoned_sync)
        taken = 0
        for row in rows:
            if await asyncio.to_thread(take_over_sync, row):
                self.dispatch(row, row.parameters or {})
                taken += 1
        if taken:
            log.warning("recovering %d queued deliveries a stopped receiver left behind", taken)
        return taken

    async def recovery_loop(self, every_s: float = 30) -> None:
        while True:
            try:
                await self.recover()
            except Exception as exc:  # the database may be briefly away; try again next round
                log.error("delivery recovery sweep failed: %s", type(exc).__name__)
            await asyncio.sleep(every_s)

    async def drain(self, timeout: float = 10) -> None:
        """At shutdown: let queued creations finish for a while; the rest stay queued in the database."""
        if self._jobs:
            await asyncio.wait(list(self._jobs.values()), timeout=timeout)

    def answer(self, row: WebhookDelivery, flow_run_id: str | None) -> Accepted:
        return Accepted(
            delivery_id=row.delivery_id,
            source=row.source,
            deployment=row.deployment,
            status="started" if flow_run_id else "queued",
            flow_run_id=flow_run_id,
            flow_run_url=self.run_url(flow_run_id) if flow_run_id else None,
            status_url=f"/deliveries/{row.ticket}",
            plan_url=f"/plans/{flow_run_id}" if flow_run_id and row.deployment == LANDING_PLAN else None,
        )

    async def start(
        self, delivery: Delivery, deployment: str, parameters: dict[str, Any], within: float | None = None
    ) -> Accepted:
        """The answer for this delivery; its run is created once, whoever asks and however often."""
        asked_to_wait = within is not None  # `?wait=N` on the landing route
        within = self.settings.webhook_answer_within_s if within is None else within
        owner, row = await asyncio.to_thread(claim_sync, delivery, deployment, parameters)
        if not owner and row.payload_sha256 != delivery.digest:
            raise rejected(
                409, delivery.source, delivery.id, "id reused", "webhook-id already used for another payload"
            )
        if not owner and row.flow_run_id is None and await asyncio.to_thread(take_over_sync, row, parameters):
            owner, row = True, await asyncio.to_thread(read_sync, delivery)
        if owner:
            if not asked_to_wait and len(self._jobs) >= self.settings.webhook_dispatch_concurrency:
                within = 0  # a backlog: this run will not exist within the budget, so do not make the sender wait
            job = self.dispatch(row, parameters)
            done, _ = await asyncio.wait([job], timeout=within)
            if job in done and job.exception() is not None:  # failed fast (e.g. no such deployment): say so
                raise HTTPException(503, f"could not start {deployment}; retry the delivery") from job.exception()
            return self.answer(row, job.result() if job in done else None)
        # A copy of a delivery someone else owns: its run id once recorded, else (after `within`) queued.
        deadline = asyncio.get_running_loop().time() + within
        pause = 0.01
        while row.flow_run_id is None and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(pause)
            pause = min(pause * 2, 0.25)
            row = await asyncio.to_thread(read_sync, delivery)
        return self.answer(row, row.flow_run_id)

    async def status(self, ticket: str) -> Accepted:
        row = await asyncio.to_thread(by_ticket_sync, ticket) if len(ticket) == 32 else None
        if row is None:
            raise HTTPException(404, "no such delivery")
        if row.status == DeliveryStatus.FAILED:
            raise HTTPException(503, f"starting {row.deployment} failed; redeliver the webhook to retry")
        return self.answer(row, row.flow_run_id)

    async def plan_answer(self, flow_run_id: str, wait_s: float = 0) -> PlanAnswer:
        """The landing plan of a run, waiting up to `wait_s` for the run to finish."""
        from prefect.exceptions import ObjectNotFound

        try:
            run = await self.client.read_flow_run(UUID(flow_run_id))
        except (ObjectNotFound, ValueError):
            raise HTTPException(404, "no such landing-plan run") from None
        if run.deployment_id != await self.deployment_id(LANDING_PLAN):  # other runs are none of its business
            raise HTTPException(404, "no such landing-plan run")
        deadline = asyncio.get_running_loop().time() + wait_s
        while not (run.state and run.state.is_final()) and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.2)
            run = await self.client.read_flow_run(run.id)
        state = run.state.type.value if run.state else "PENDING"
        plan = await asyncio.to_thread(plan_sync, flow_run_id) if state == "COMPLETED" else None
        return PlanAnswer(flow_run_id=flow_run_id, flow_run_url=self.run_url(flow_run_id), state=state, plan=plan)


# --- routes: one router per source, dependencies as Annotated aliases -----------------------------


def get_receiver(request: Request) -> Receiver:
    return request.app.state.receiver


ReceiverDep = Annotated[Receiver, Depends(get_receiver)]


def signed(source: Literal["crm", "shop", "landing"]) -> Callable[..., Any]:
    """A dependency that yields the source's delivery once its size and signature checked out."""

    async def dependency(request: Request, receiver: ReceiverDep) -> Delivery:
        body = await read_body(request, source, receiver.settings.webhook_max_body_bytes)
        delivery_id = verify(source, receiver.verifiers[source], body, dict(request.headers))
        return Delivery(source=source, id=delivery_id, body=body)

    return dependency


CrmDelivery = Annotated[Delivery, Depends(signed("crm"))]
ShopDelivery = Annotated[Delivery, Depends(signed("shop"))]
LandingDelivery = Annotated[Delivery, Depends(signed("landing"))]

crm = APIRouter(prefix="/webhooks/crm", tags=["crm"])
shop = APIRouter(prefix="/webhooks/shop", tags=["shop"])
landing = APIRouter(prefix="/webhooks/landing", tags=["landing"])
plans = APIRouter(prefix="/plans", tags=["landing"])
deliveries = APIRouter(prefix="/deliveries", tags=["deliveries"])


@crm.post("/prospects-selected", status_code=202)
async def prospects_selected(delivery: CrmDelivery, receiver: ReceiverDep) -> Accepted:
    """Start prospect outreach for the contacts a rep selected in the CRM."""
    payload = parse(ProspectsSelected, delivery)
    return await receiver.start(delivery, OUTREACH, {"prospect_ids": payload.contact_ids})


@shop.post("/claim-opened", status_code=202)
async def claim_opened(delivery: ShopDelivery, receiver: ReceiverDep) -> Accepted:
    """Start the fraud check of a claim the shop just opened."""
    payload = parse(ClaimOpened, delivery)
    return await receiver.start(delivery, FRAUD_CHECK, {"case_id": payload.claim_id})


@landing.post("/form-submitted", status_code=202, response_model=Accepted | PlanAnswer)
async def form_submitted(
    delivery: LandingDelivery,
    receiver: ReceiverDep,
    wait: Annotated[float, Query(ge=0, description="Seconds to wait for the plan (at most 30)")] = 0,
) -> Any:
    """Start a landing-page plan; with `?wait=N`, answer 200 with the plan if it is ready in time."""
    visitor = parse(Visitor, delivery)
    wait = min(wait, receiver.settings.webhook_max_wait_s)
    deadline = asyncio.get_running_loop().time() + wait
    parameters = {"visitor": visitor.model_dump(mode="json")}
    accepted = await receiver.start(delivery, LANDING_PLAN, parameters, within=wait or None)
    if wait > 0 and accepted.flow_run_id:
        answer = await receiver.plan_answer(
            accepted.flow_run_id, max(0.0, deadline - asyncio.get_running_loop().time())
        )
        if answer.state == "COMPLETED":
            return JSONResponse(answer.model_dump(mode="json"), status_code=200)
    return accepted


@plans.get("/{flow_run_id}", response_model=PlanAnswer)
async def get_plan(flow_run_id: str, receiver: ReceiverDep) -> Any:
    """A landing plan: 200 once the run finished (with the plan if it succeeded), 202 while it runs."""
    answer = await receiver.plan_answer(flow_run_id)
    final = answer.state in {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}
    return JSONResponse(answer.model_dump(mode="json"), status_code=200 if final else 202)


@deliveries.get("/{ticket}", response_model=Accepted)
async def delivery_status(ticket: str, receiver: ReceiverDep) -> Any:
    """A delivery's answer by the ticket in its `status_url`: 200 once its run exists, 202 while queued."""
    answer = await receiver.status(ticket)
    return JSONResponse(answer.model_dump(mode="json"), status_code=200 if answer.flow_run_id else 202)


def create_app(settings: Settings | None = None) -> FastAPI:
    """The receiver. Secrets and the Prefect client are set up at startup, once."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        from prefect.client.orchestration import get_client

        current = settings or get_settings()
        secrets = await asyncio.to_thread(webhook_secrets.resolve, current)
        for source, values in secrets.items():
            if not values:
                log.error("webhook source %r has no secret: its route answers 503 (see `agentflows up`)", source)
        async with get_client() as client:
            receiver = app.state.receiver = Receiver(client, current, secrets)
            sweep = asyncio.create_task(receiver.recovery_loop())  # queued rows a dead receiver left behind
            yield
            sweep.cancel()
            await receiver.drain()

    app = FastAPI(title="agentflows webhooks", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)
    for router in (crm, shop, landing, plans, deliveries):
        app.include_router(router)

    @app.get("/healthz")
    async def healthz(receiver: ReceiverDep) -> dict[str, Any]:
        return {"status": "ok", "sources": {s: bool(v) for s, v in receiver.verifiers.items()}}

    return app


app = create_app()
