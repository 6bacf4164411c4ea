"""Prefect's runner must not die when a run it polled has been paused by someone else meanwhile.

The runner polls for `Scheduled` runs, then proposes `Pending` for each one it submits
(`prefect.runner._state_proposer.StateProposer.propose_pending`). The receiver's warm path
(`deployments.warm`) claims the same runs the same way, so between the runner's poll and its
proposal the receiver may have claimed the run, run it, and seen it suspend for an approval. The
server then rejects the runner's `Pending` with the run's `Paused` state, and Prefect 3.9.1's
`propose_state` raises `prefect.exceptions.Pause`, a `BaseException`: `propose_pending` catches
`Abort` and `Exception` only, so `Pause` escapes into the runner's task group, which cancels every
loop, and the runner process exits 1 (seen under the latency benchmark's open loop; the cancellation
then hit the runner's own shutdown, so the log showed only `CancelledError` until the schedules'
pause-on-shutdown was out of the way).

A paused run is simply not the runner's to start now (Prefect resumes it through the runner later, as
`Scheduled` again), which is exactly what `propose_pending` returns False for. The patch wraps it to
say so for `Pause` too. Process workers (`agentflows up --workers N`) have the same gap in
`BaseWorker._propose_pending_state`; `deployments.worker` starts them with the same guard. Contract
test: `tests/compat/test_prefect_runner_compat.py` (it fails once Prefect catches `Pause` itself,
and then this module can go).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

log = logging.getLogger("agentflows.runner")


def _guarded(original: Callable[..., Awaitable[bool]]) -> Callable[..., Awaitable[bool]]:
    from prefect.exceptions import Pause

    async def propose_pending(self: Any, flow_run: Any) -> bool:
        try:
            return await original(self, flow_run)
        except Pause as paused:
            log.info("flow run %s was paused before it could be started here: left alone (%s)", flow_run.id, paused)
            return False

    propose_pending.agentflows_guard = True  # type: ignore[attr-defined]
    return propose_pending


def install_paused_run_guard() -> None:
    """Wrap the runner's and the workers' `Pending` proposal once (idempotent), in the process that serves."""
    from prefect.runner._state_proposer import StateProposer
    from prefect.workers.base import BaseWorker

    if not getattr(StateProposer.propose_pending, "agentflows_guard", False):
        StateProposer.propose_pending = _guarded(StateProposer.propose_pending)  # type: ignore[method-assign]
    if not getattr(BaseWorker._propose_pending_state, "agentflows_guard", False):
        BaseWorker._propose_pending_state = _guarded(BaseWorker._propose_pending_state)  # type: ignore[method-assign]
