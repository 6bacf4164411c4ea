"""The HTTP surface: one router per source, dependencies as `Annotated` aliases.

Each route reads like its contract: a signed delivery of its source, its payload model, the
deployment it starts with which parameters. Checks live in `verification`, runs in `receiver`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse

from agents.landing.plan import Visitor
from deployments.webhooks.deployment_names import FRAUD_CHECK, LANDING_PLAN, OUTREACH
from deployments.webhooks.payloads import FINAL_STATES, Accepted, ClaimOpened, PlanAnswer, ProspectsSelected
from deployments.webhooks.receiver import Receiver
from deployments.webhooks.verification import Delivery, parse, read_body, verify


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
    """Start a landing-page plan; with `?wait=N`, answer 200 as soon as the plan is stored (`state` COMPLETED,
    or RUNNING while the run records its end), or once the run ended without one: `state` FAILED/CRASHED/
    CANCELLED with a `reason`; 202 `started` when neither happened in time."""
    visitor = parse(Visitor, delivery)
    wait = min(wait, receiver.settings.webhook_max_wait_s)
    deadline = asyncio.get_running_loop().time() + wait
    parameters = {"visitor": visitor.model_dump(mode="json")}
    accepted = await receiver.start(delivery, LANDING_PLAN, parameters, within=wait or None)
    if wait > 0 and accepted.flow_run_id:
        answer = await receiver.plan_answer(
            accepted.flow_run_id, max(0.0, deadline - asyncio.get_running_loop().time())
        )
        if answer.plan is not None or answer.state in FINAL_STATES:  # the plan, or honestly why there is none
            return JSONResponse(answer.model_dump(mode="json"), status_code=200)
    return accepted


@plans.get("/{flow_run_id}", response_model=PlanAnswer)
async def get_plan(flow_run_id: str, receiver: ReceiverDep) -> Any:
    """A landing plan: 200 once the plan is stored or the run ended without one, 202 while it runs."""
    answer = await receiver.plan_answer(flow_run_id)
    final = answer.plan is not None or answer.state in FINAL_STATES
    return JSONResponse(answer.model_dump(mode="json"), status_code=200 if final else 202)


@deliveries.get("/{ticket}", response_model=Accepted)
async def delivery_status(ticket: str, receiver: ReceiverDep) -> Any:
    """A delivery's answer by the ticket in its `status_url`: 200 once its run exists, 202 while queued."""
    answer = await receiver.status(ticket)
    return JSONResponse(answer.model_dump(mode="json"), status_code=200 if answer.flow_run_id else 202)


health = APIRouter()


@health.get("/healthz")
async def healthz(receiver: ReceiverDep) -> dict[str, Any]:
    return {"status": "ok", "sources": {s: bool(v) for s, v in receiver.verifiers.items()}}


ROUTERS = (crm, shop, landing, plans, deliveries, health)
