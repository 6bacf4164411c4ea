"""Prefect internals the warm path (`deployments.warm`) relies on: one switch, with its reason.

Since 3.9 every flow run of a deployment starts a thread with its own event loop and a websocket
observer for "Suspend" pressed in the UI (`prefect._flow_run_suspension.observe_flow_run_suspension`,
entered by `BaseFlowRunEngine.setup_flow_run_suspension_request`). Its start waits for the websocket
and its end joins the thread, both blocking: ~180 ms per run measured on 2 cores, with the receiver's
event loop (every other visitor's request) stopped meanwhile. A runner's subprocess pays it once per
process; a warm process would pay it on every run. Warm runs are short and suspend only at their own
checkpoints (`agentflows.human_input`), so they run without it: "Suspend" from the UI does not stop a
warm run in flight (it never reliably stopped a served one either, Prefect #20388).

There is no setting for it, so the switch wraps the module attribute the engine looks up, and skips
the observer only inside `without_suspension_observer()` (contextvar-scoped: other runs in the same
process keep it). Contract test: `tests/compat/test_prefect_warm_compat.py`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

_SKIP: ContextVar[bool] = ContextVar("agentflows_skip_suspension_observer", default=False)


def install_suspension_observer_switch() -> None:
    """Wrap `prefect.flow_engine.observe_flow_run_suspension` once (idempotent)."""
    import prefect.flow_engine as engine

    original = engine.observe_flow_run_suspension
    if getattr(original, "agentflows_switch", False):
        return

    @contextmanager
    def observe(*args: Any, **kwargs: Any) -> Iterator[None]:
        if _SKIP.get():
            yield
            return
        with original(*args, **kwargs):
            yield

    observe.agentflows_switch = True  # type: ignore[attr-defined]
    engine.observe_flow_run_suspension = observe  # type: ignore[assignment]


@contextmanager
def without_suspension_observer() -> Iterator[None]:
    """Flow runs started inside this block (and their tasks) run without the UI-suspend observer."""
    install_suspension_observer_switch()
    token = _SKIP.set(True)
    try:
        yield
    finally:
        _SKIP.reset(token)
