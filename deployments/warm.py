"""Warm runs: the flows a person waits for, run as Prefect flow runs inside the receiver's process.

A deployment run normally waits for the runner's next poll, then pays a new Python process and its
imports: seconds before the first line of the flow. The receiver already has the flows imported and
a Prefect client open, so for the deployments in `warm_runs` it runs the flow run it just created
itself, on its own event loop. Everything else stays Prefect's:

- the run is the same deployment run (created with the webhook's idempotency key), with its tasks,
  logs, artifacts and persisted result in the UI, retried by Prefect like any other;
- it is claimed the way the runner claims runs: a `Pending` state proposed on the `Scheduled` run.
  Exactly one proposal is accepted, so the runner (or a worker) and this process never both run it;
  a run this process does not claim (all `warm_run_limit` slots busy, or the receiver restarting) is
  picked up by the runner at its next poll: a burst queues, it does not fail;
- a run that waits for a person suspends (`Suspended`) and leaves this process like it leaves a runner's
  subprocess; the answer resumes it on the runner.

Crash safety: every claimed run has a ledger file `<data_dir>/warm-runs/<flow run id>` holding the
claiming process's pid, removed when the run ends. A process that starts (the next receiver) marks the
runs of dead pids `Crashed`, as the runner does for its dead subprocesses; a redelivery of their
webhook (or "Retry" in the UI) then runs them again under the same flow run id, so completed model
requests, the stored plan, a recorded decision and a sent email replay from their tasks' results and
idempotency keys instead of happening twice.

The path a user outgrows this with is the same code on Prefect workers: set `AGENTFLOWS_WARM_RUNS=`
(empty) and every run goes to the runner or the work pool.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import os
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from uuid import UUID

from agentflows import run_milestones
from agentflows.compat.prefect_warm import without_suspension_observer
from agentflows.processes import pid_alive
from agentflows.settings import Settings
from deployments.serve import load_specs

if TYPE_CHECKING:
    from prefect.states import State

log = logging.getLogger("agentflows.webhooks")

CRASH_MESSAGE = (
    "The receiver process that ran this flow run stopped before it finished. Redeliver the webhook "
    "or press Retry: completed steps are not repeated."
)


@dataclass(frozen=True)
class WarmRun:
    task: asyncio.Task[State | None]
    deployment: str


@dataclass(frozen=True)
class Waited:
    """What a wait on a warm run saw: the milestone reached, and/or the run's final state if it ended here."""

    reached: bool
    state: State | None


class WarmRunner:
    """Claims and runs flow runs of the warm deployments in this process, at most `warm_run_limit` at once."""

    def __init__(self, client: Any, settings: Settings) -> None:
        self.client = client
        self.limit = settings.warm_run_limit
        self.ledger = settings.data_dir / "warm-runs"
        wanted = set(settings.warm_runs)
        self.flows = {spec.full_name: spec.flow for spec in load_specs() if spec.full_name in wanted}  # imported now
        self.running: dict[str, WarmRun] = {}
        self._reruns: dict[str, asyncio.Lock] = {}
        self._clients = AsyncExitStack()
        self._context: contextvars.Context | None = None

    async def start(self) -> None:
        """Open the Prefect clients every warm run shares (a new one per run costs ~35 ms: TLS context,
        connection pool, version check), and mark the runs a dead receiver left behind `Crashed`."""
        from prefect.context import AsyncClientContext, SyncClientContext

        await self._clients.enter_async_context(AsyncClientContext())
        self._clients.enter_context(SyncClientContext())  # result persistence asks the server through it
        self._context = contextvars.copy_context()  # what every run's context starts from
        await self.mark_orphans_crashed()

    def wants(self, deployment: str) -> bool:
        return deployment in self.flows

    async def try_run(
        self, flow_run_id: str, deployment: str, flow_run: Any = None, milestones: tuple[str, ...] = ()
    ) -> bool:
        """Claim the run and start it here; False when it is not ours to run (the runner will).

        `flow_run`: the run as its creator got it back (saves reading it again); `milestones`: what a
        waiter in this process will ask for before the run ends (`agentflows.run_milestones`)."""
        from prefect.client.schemas.objects import StateType
        from prefect.states import Pending

        if not self.wants(deployment) or flow_run_id in self.running or len(self.running) >= self.limit:
            return False
        answer = await self.client.set_flow_run_state(
            UUID(flow_run_id), Pending(message=f"claimed by receiver pid {os.getpid()}")
        )
        if answer.state is None or answer.state.type != StateType.PENDING or answer.status.value != "ACCEPT":
            return False  # the runner (or a copy of this delivery) got there first
        self._write_ledger(flow_run_id)
        if flow_run is not None:
            flow_run.state = answer.state  # what the server holds now, lease details included
        for milestone in milestones:
            run_milestones.expect(flow_run_id, milestone)
        context = self._context.run(contextvars.copy_context) if self._context else None  # one copy per run
        task = asyncio.create_task(self._run(flow_run_id, deployment, flow_run), context=context)
        self.running[flow_run_id] = WarmRun(task, deployment)
        task.add_done_callback(lambda _: self._ended(flow_run_id))
        return True

    def _ended(self, flow_run_id: str) -> None:
        self.running.pop(flow_run_id, None)
        run_milestones.forget(flow_run_id)

    async def _run(self, flow_run_id: str, deployment: str, flow_run: Any = None) -> State | None:
        """The run, to its final state (returned), or None when it suspended, was taken over or errored."""
        from prefect.exceptions import Abort, Pause
        from prefect.flow_engine import run_flow

        state = None
        try:
            if flow_run is None:
                flow_run = await self.client.read_flow_run(UUID(flow_run_id))
            # `run_flow`, not `run_flow_async`: it resolves the run's parameters (and the flow's defaults) as
            # the runner's subprocess does; for an async flow it returns the coroutine of the run.
            with without_suspension_observer():  # ~180 ms of blocking per run (agentflows.compat.prefect_warm)
                state = await run_flow(self.flows[deployment], flow_run=flow_run, return_type="state")  # type: ignore[misc]
        except (Pause, Abort):
            pass  # suspended for a person, or taken over: the run's state says so
        except Exception:  # the engine records the run's failure itself; this is the process's own log
            log.exception("warm run %s of %s ended with an error", flow_run_id, deployment)
        finally:
            (self.ledger / flow_run_id).unlink(missing_ok=True)
        await self._start_approvals(flow_run_id, deployment, state)
        return state if state is not None and state.is_final() else None

    async def _start_approvals(self, flow_run_id: str, deployment: str, state: State | None) -> None:
        """An outreach batch's approval runs go warm too: they draft nothing, only pause with their form."""
        from deployments.webhooks.deployment_names import APPROVAL, OUTREACH

        if deployment != OUTREACH or APPROVAL not in self.flows:
            return
        if state is None:  # ended here without a final state (an error in this process): ask Prefect
            run = await self.client.read_flow_run(UUID(flow_run_id))
            state = run.state
        if not (state and state.is_completed()):
            return
        summary = await state.result(raise_on_failure=False)
        for outcome in getattr(summary, "outcomes", []):
            if outcome.outcome == "awaiting_approval" and outcome.flow_run_id:
                await self.try_run(outcome.flow_run_id, APPROVAL)

    async def rerun_if_crashed(self, flow_run_id: str, deployment: str) -> bool:
        """A redelivery of a crashed run's webhook: schedule it again (same run id) and run it; True if so."""
        from prefect.client.schemas.objects import StateType
        from prefect.states import Scheduled

        lock = self._reruns.setdefault(flow_run_id, asyncio.Lock())
        async with lock:  # copies of one redelivery reschedule it once
            run = await self.client.read_flow_run(UUID(flow_run_id))
            if run.state is None or run.state.type != StateType.CRASHED:
                return False
            await self.client.set_flow_run_state(
                run.id, Scheduled(name="AwaitingRetry", message="webhook redelivered after a crash")
            )
            if not await self.try_run(flow_run_id, deployment):
                log.info("redelivered crashed run %s is left to the runner", flow_run_id)
        return True

    def running_as(self, flow_run_id: str, deployment: str) -> bool:
        """Whether this process is running `flow_run_id`, a run of `deployment` (no need to ask Prefect)."""
        run = self.running.get(flow_run_id)
        return run is not None and run.deployment == deployment

    async def wait(self, flow_run_id: str, timeout: float, milestone: str | None = None) -> Waited:
        """Until this process's run of `flow_run_id` ends, reaches `milestone`, or `timeout` passes (no polling)."""
        run = self.running.get(flow_run_id)
        if run is None or timeout <= 0:
            return Waited(reached=False, state=None)
        waits: list[asyncio.Future[Any]] = [run.task]
        if milestone is not None:
            waits.append(asyncio.ensure_future(run_milestones.wait(flow_run_id, milestone, timeout)))
        done, pending = await asyncio.wait(waits, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        for waiting in pending:
            if waiting is not run.task:
                waiting.cancel()
        reached = any(w is not run.task and w in done and w.result() for w in waits)
        return Waited(reached=reached, state=run.task.result() if run.task.done() else None)

    async def mark_orphans_crashed(self) -> int:
        """Runs claimed by a process that died mid-run -> `Crashed`, as the runner does; returns how many."""
        from prefect.states import Crashed

        self.ledger.mkdir(parents=True, exist_ok=True)
        crashed = 0
        for entry in self.ledger.iterdir():
            pid = _read_pid(entry)
            if pid is not None and pid_alive(pid) and pid != os.getpid():
                continue
            try:
                run = await self.client.read_flow_run(UUID(entry.name))
            except Exception:  # no such run (another server, or deleted): nothing to mark
                run = None
            if run is not None and run.state is not None and not run.state.is_final() and not run.state.is_paused():
                await self.client.set_flow_run_state(run.id, Crashed(message=CRASH_MESSAGE))
                log.warning("flow run %s lost its warm process; marked Crashed", entry.name)
                crashed += 1
            entry.unlink(missing_ok=True)
        return crashed

    async def drain(self, timeout: float) -> None:
        """At shutdown: let running runs finish for a while; the rest are marked crashed by the next start."""
        if self.running:
            await asyncio.wait([run.task for run in self.running.values()], timeout=timeout)
        await self._clients.aclose()

    def _write_ledger(self, flow_run_id: str) -> None:
        self.ledger.mkdir(parents=True, exist_ok=True)
        (self.ledger / flow_run_id).write_text(str(os.getpid()))


def _read_pid(entry: Path) -> int | None:
    try:
        return int(entry.read_text().strip())
    except (OSError, ValueError):
        return None
