"""A flow run tells a waiter in the same process that what the waiter wants exists, before the run ends.

A visitor waiting on `?wait` wants the plan, not the run's bookkeeping after it: the artifact, the
persisted flow result and the `Completed` state cost tens of milliseconds once the plan is stored. The
warm receiver (`deployments.warm`) runs the flow on its own event loop, so the flow can say "stored"
directly: the receiver `expect`s a milestone when it claims the run, the flow `reach`es it, the
receiver `wait`s for it (or for the run's end, whichever comes first).

Only a waiter in this process hears it: in a runner's or worker's subprocess nobody `expect`ed
anything and `reach` does nothing. Nothing is stored, so nothing leaks: the expectation is dropped
when the run ends (`forget`). The milestone is a promise about durable state (a row already
committed), never a substitute for it: whoever hears it still reads what it waits for from the database.
"""

from __future__ import annotations

import asyncio

ANSWER_STORED = "answer-stored"  # what the waiter came for (a landing plan) is committed to the database

_expected: dict[tuple[str, str], asyncio.Event] = {}


def expect(flow_run_id: str, milestone: str) -> None:
    """Be ready to hear `milestone` of this run (call before the run starts, on the loop it runs on)."""
    _expected.setdefault((flow_run_id, milestone), asyncio.Event())


def reach(flow_run_id: str, milestone: str) -> None:
    """The run reached `milestone`: wake whoever in this process waits for it (nobody, in a subprocess)."""
    event = _expected.get((flow_run_id, milestone))
    if event is not None:
        event.set()


async def wait(flow_run_id: str, milestone: str, timeout: float) -> bool:
    """True once the run reached `milestone` within `timeout`; False if not expected here or not in time."""
    event = _expected.get((flow_run_id, milestone))
    if event is None:
        return False
    try:
        await asyncio.wait_for(event.wait(), timeout)
    except TimeoutError:
        return False
    return True


def forget(flow_run_id: str) -> None:
    """The run ended: drop its expectations."""
    for key in [k for k in _expected if k[0] == flow_run_id]:
        del _expected[key]
