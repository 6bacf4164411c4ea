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
say so for `Pause` too. Contract test: `tests/compat/test_prefect_runner_compat.py` (it fails once
Prefect catches `Pause` itself, and then this module can go).
"""

from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger("agentflows.runner")


def install_paused_run_guard() -> None:
    """Wrap `StateProposer.propose_pending` once (idempotent), in the process that serves."""
    from prefect.exceptions import Pause
    from prefect.runner._state_proposer import StateProposer

    original = StateProposer.propose_pending
    if getattr(original, "agentflows_guard", False):
        return

    async def propose_pending(self: StateProposer, flow_run: Any) -> bool:
        try:
            return await original(self, flow_run)
        except Pause as paused:
            log.info("flow run %s was paused before this runner could start it: left alone (%s)", flow_run.id, paused)
            return False

    propose_pending.agentflows_guard = True  # type: ignore[attr-defined]
    StateProposer.propose_pending = propose_pending  # type: ignore[method-assign]
