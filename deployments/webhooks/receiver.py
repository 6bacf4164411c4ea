"""Verified deliveries -> flow runs: the answer within a budget, the rest drained from the queue.

The one stateful object of the app (the Prefect client, the verifiers, the run creations in
flight), kept apart from the routes so that dispatch, retries and the recovery sweep read as one
story and the routes stay thin.
"""

from __future__ import annotations

import asyncio
import logging
import random
from typing import TYPE_CHECKING, Any
from uuid import UUID

from fastapi import HTTPException
from standardwebhooks import Webhook

from agentflows.db.webhooks import DeliveryStatus, WebhookDelivery
from agentflows.run_milestones import ANSWER_STORED
from agentflows.settings import Settings
from deployments.webhooks.deployment_names import LANDING_PLAN
from deployments.webhooks.payloads import FAILURE_REASONS, Accepted, PlanAnswer
from deployments.webhooks.store import (
    abandoned_sync,
    by_ticket_sync,
    claim_sync,
    finish_sync,
    plan_sync,
    read_sync,
    still_queued_sync,
    take_over_sync,
)
from deployments.webhooks.verification import Delivery, printable, rejected

if TYPE_CHECKING:
    from deployments.warm import WarmRunner

log = logging.getLogger("agentflows.webhooks")

# What a waiter in this process asks a warm run of these deployments for before it ends
MILESTONES = {LANDING_PLAN: (ANSWER_STORED,)}


class Receiver:
    """Turns verified deliveries into flow runs through the Prefect API (one client per process).

    The answer waits for the run at most `webhook_answer_within_s`; a run Prefect has not created
    by then is left to the dispatcher (at most `webhook_dispatch_concurrency` creations at once,
    with retries), and the sender gets 202 `queued` with a status URL. Prefect's idempotency key
    (`webhook:<source>:<id>`) makes every path, including two receivers racing, create one run.
    With `warm`, the runs of its deployments are run in this process once created (`deployments.warm`).
    """

    def __init__(
        self, client: Any, settings: Settings, secrets: dict[str, list[str]], warm: WarmRunner | None = None
    ) -> None:
        self.client = client
        self.settings = settings
        self.warm = warm
        self.verifiers = {source: [Webhook(s) for s in values] for source, values in secrets.items()}
        self._deployment_ids: dict[str, UUID] = {}
        self._jobs: dict[int, asyncio.Task[str]] = {}  # delivery row id -> its run creation
        self._slots = asyncio.Semaphore(settings.webhook_dispatch_concurrency)

    def run_url(self, flow_run_id: str) -> str:
        from agentflows.prefect_env import flow_run_url

        return flow_run_url(flow_run_id)

    async def deployment_id(self, name: str, refresh: bool = False) -> UUID:
        if refresh or name not in self._deployment_ids:
            self._deployment_ids[name] = (await self.client.read_deployment_by_name(name)).id
        return self._deployment_ids[name]

    async def create_run(self, source: str, delivery_id: str, deployment: str, parameters: dict[str, Any]) -> Any:
        """The delivery's flow run (a `FlowRun`), created once per idempotency key."""
        from prefect.exceptions import ObjectNotFound

        for refresh in (False, True):  # a re-created deployment has a new id: look it up once more
            try:
                run = await self.client.create_flow_run_from_deployment(
                    await self.deployment_id(deployment, refresh),
                    parameters=parameters,
                    idempotency_key=f"webhook:{source}:{delivery_id}",
                    tags=["webhook", f"webhook:{source}"],
                )
                return run
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
                    flow_run = await self.create_run(source, delivery_id, deployment, parameters)
                    break
                except Exception as exc:
                    error = f"{type(exc).__name__}: {exc}"[:500]
                    if isinstance(exc, ObjectNotFound):  # no such deployment: retrying cannot help
                        await asyncio.to_thread(finish_sync, row_id, None, error)
                        log.error(
                            "cannot start %s for %s delivery %s: %s", deployment, source, printable(delivery_id), error
                        )
                        raise
                    if attempt == attempts:  # Prefect is overloaded or away: the row stays queued for the sweep
                        await asyncio.to_thread(still_queued_sync, row_id, error)
                        log.warning(
                            "could not start %s for %s delivery %s after %d attempts (%s); it stays queued and the "
                            "recovery sweep retries it",
                            deployment,
                            source,
                            printable(delivery_id),
                            attempt,
                            type(exc).__name__,
                        )
                        raise
                    await asyncio.sleep(min(0.2 * 2**attempt, 5) * (0.5 + random.random()))
        flow_run_id = str(flow_run.id)
        # the row's record and the warm claim are independent: the run exists in Prefect either way
        await asyncio.gather(
            asyncio.to_thread(finish_sync, row_id, flow_run_id, None), self.run_warm(flow_run, deployment)
        )
        log.info("accepted %s delivery %s -> %s run %s", source, printable(delivery_id), deployment, flow_run_id)
        return flow_run_id

    async def run_warm(self, flow_run: Any, deployment: str) -> None:
        """Run it in this process if it is a warm deployment with a free slot; else the runner will."""
        if self.warm is None or not self.warm.wants(deployment):
            return
        flow_run_id = str(flow_run.id)
        try:
            await self.warm.try_run(flow_run_id, deployment, flow_run, MILESTONES.get(deployment, ()))
        except Exception as exc:  # Prefect busy: the run exists and stays Scheduled for the runner
            log.warning("could not claim run %s here (%s); the runner takes it", flow_run_id, type(exc).__name__)

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
        if row.flow_run_id is not None and self.warm is not None and self.warm.wants(deployment):
            await self.warm.rerun_if_crashed(row.flow_run_id, deployment)  # a redelivery after a crash: once more
        return self.answer(row, row.flow_run_id)

    async def status(self, ticket: str) -> Accepted:
        row = await asyncio.to_thread(by_ticket_sync, ticket) if len(ticket) == 32 else None
        if row is None:
            raise HTTPException(404, "no such delivery")
        if row.status == DeliveryStatus.FAILED:
            raise HTTPException(503, f"starting {row.deployment} failed; redeliver the webhook to retry")
        answer = self.answer(row, row.flow_run_id)
        if row.flow_run_id is None:
            return answer
        state = await self.run_state(row.flow_run_id)
        if state not in FAILURE_REASONS:  # running or done: the same answer as every copy of the delivery got
            return answer
        return answer.model_copy(update={"run_state": state, "reason": FAILURE_REASONS[state]})

    async def run_state(self, flow_run_id: str) -> str:
        run = await self.client.read_flow_run(UUID(flow_run_id))
        return run.state.type.value if run.state else "PENDING"

    async def plan_answer(self, flow_run_id: str, wait_s: float = 0) -> PlanAnswer:
        """The landing plan of a run, waiting up to `wait_s` for it to be stored (or for the run to end).

        A run of this process (warm) needs no reads from Prefect while it runs: the answer goes out as
        soon as the flow says its plan is stored (`ANSWER_STORED`), while the run still records its end.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait_s
        state: str | None = None
        if self.warm is not None and self.warm.running_as(flow_run_id, LANDING_PLAN):
            waited = await self.warm.wait(flow_run_id, wait_s, milestone=ANSWER_STORED)
            if waited.state is not None:
                state = waited.state.type.value
            elif waited.reached:
                state = "RUNNING"  # the plan is stored; the run is recording its end
        if state is None:
            state = await self._landing_run_state(flow_run_id, max(0.0, deadline - loop.time()))
        stored = await asyncio.to_thread(plan_sync, flow_run_id)  # once stored, the plan is the answer
        plan, version = stored if stored is not None else (None, None)
        return PlanAnswer(
            flow_run_id=flow_run_id,
            flow_run_url=self.run_url(flow_run_id),
            state=state,
            plan=plan,
            workspace_version=version,
            reason=FAILURE_REASONS.get(state),
        )

    async def _landing_run_state(self, flow_run_id: str, wait_s: float) -> str:
        """A landing-plan run's state from Prefect, polling up to `wait_s` for it to end (404 for other runs)."""
        from prefect.exceptions import ObjectNotFound

        try:
            run = await self.client.read_flow_run(UUID(flow_run_id))
        except (ObjectNotFound, ValueError):
            raise HTTPException(404, "no such landing-plan run") from None
        if run.deployment_id != await self.deployment_id(LANDING_PLAN):  # other runs are none of its business
            raise HTTPException(404, "no such landing-plan run")
        deadline = asyncio.get_running_loop().time() + wait_s
        if self.warm is not None and not (run.state and run.state.is_final()):
            waited = await self.warm.wait(flow_run_id, wait_s)  # a run of this process: no polling
            if waited.state is not None:
                return waited.state.type.value
            run = await self.client.read_flow_run(run.id)
        while not (run.state and run.state.is_final()) and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.2)
            run = await self.client.read_flow_run(run.id)
        return run.state.type.value if run.state else "PENDING"
