"""How a flow waits for a person: suspended when a deployment can start it again, paused otherwise.

A run started from a deployment (a webhook, a schedule, the UI, a worker) *suspends*: it leaves its
process, which is then free for other runs, and Prefect schedules it again once someone answers the
form; the run replays from the top, its completed tasks (model requests, tool calls, the decision
write) come back from Prefect's result store instead of running again, and the suspend with the same
key hands back the stored answer. A run started in a terminal (`agentflows run`, tests) has no
deployment to be started from, so it *pauses* and keeps waiting in its process. The form, the
answer's validation and the CLI are the same in both cases; `AGENTFLOWS_APPROVAL_WAIT` forces one.

Timeouts: a paused run gives up in-process (`AnswerTimeout`); a suspended run is failed by the
Prefect server when its pause expires ("paused and never resumed"), and `approval-expiry` records
that outcome in the CRM (see `flows/approval_expiry.py`).
"""

from __future__ import annotations

import os
from contextlib import suppress
from typing import Any, TypeVar

import anyio
from prefect._flow_run_suspension import mark_flow_run_suspension_requested
from prefect.client.orchestration import get_client
from prefect.client.schemas.objects import State
from prefect.context import FlowRunContext
from prefect.exceptions import FlowPauseTimeout, ObjectAlreadyExists, Pause
from prefect.flow_runs import apause_flow_run, asuspend_flow_run
from prefect.input.run_input import run_input_subclass_from_type

from agentflows.settings import get_settings

T = TypeVar("T")


class AnswerTimeout(TimeoutError):
    """Nobody answered a paused run's form within its timeout."""


def waits_without_a_process() -> bool:
    """True when the current run suspends (leaves its process) to wait for a person."""
    mode = get_settings().approval_wait
    if mode != "auto":
        return mode == "suspend"
    context = FlowRunContext.get()
    run = context.flow_run if context else None
    # Only a run of its own deployment can be started again; an in-process subflow has none.
    return bool(run and run.deployment_id and run.parent_task_run_id is None)


def served_by_a_worker() -> bool:
    """True when this process runs flows for a runner or worker (which can start other deployment runs).

    A scheduled `prospect-batch` calls `prospect-outreach` as a subflow: that subflow has no deployment
    of its own, yet it runs in a runner's process, so its approvals must not pause there for days.
    Prefect's runner and workers start each flow-run process with PREFECT__FLOW_RUN_ID set.
    """
    mode = get_settings().approval_wait
    if mode != "auto":
        return mode == "suspend"
    context = FlowRunContext.get()
    run = context.flow_run if context else None
    return bool(os.environ.get("PREFECT__FLOW_RUN_ID") or (run and run.deployment_id))


async def wait_for_answer(form: Any, *, timeout_s: int, key: str) -> Any:
    """Wait for a person to submit `form` (a RunInput, possibly `.with_initial_data(...)`)."""
    poll_s = get_settings().approval_poll_s
    if waits_without_a_process():
        # Raises prefect's Pause to end this process; on the run's next start it returns the answer.
        try:
            return await asuspend_flow_run(wait_for_input=form, timeout=timeout_s, key=key)
        except Pause as exc:
            if (state := await _paused_despite_refusal(exc, form, key)) is None:
                raise
            mark_flow_run_suspension_requested(FlowRunContext.get().flow_run.id, state)  # type: ignore[union-attr]
            raise Pause(state=state) from None
    try:
        try:
            return await apause_flow_run(wait_for_input=form, timeout=timeout_s, poll_interval=poll_s, key=key)
        except Pause as exc:
            if (state := await _paused_despite_refusal(exc, form, key)) is None:
                raise
            return await _answer_when_resumed(form, state, timeout_s, poll_s)
    except FlowPauseTimeout:
        raise AnswerTimeout(f"no answer within {timeout_s} s") from None


DUPLICATE_TRANSITION = "already made this state transition"


async def _paused_despite_refusal(exc: Pause, form: Any, key: str) -> State | None:
    """The paused state, with the form saved, when Prefect raised `Pause` for a pause that did happen.

    Under load the server can commit the pause and answer too late; Prefect's client then sends the
    same transition again, the server refuses it as a duplicate ("This run has already made this state
    transition") and returns the run's state, and Prefect raises that refusal instead of saving the form
    and waiting. The run *is* paused with our key, so we save the form (once is enough) and the caller
    goes on as Prefect would have. None for any other `Pause`, e.g. the one a suspend raises on purpose.
    """
    state = exc.state
    if DUPLICATE_TRANSITION not in str(exc) or state is None or not state.is_paused():
        return None
    if state.state_details.pause_key != key:
        return None
    if (keyset := state.state_details.run_input_keyset) is not None:
        with suppress(ObjectAlreadyExists):
            await run_input_subclass_from_type(form).asave(keyset)
    return state


async def _answer_when_resumed(form: Any, state: State, timeout_s: int, poll_s: float) -> Any:
    """What `apause_flow_run` does once paused: poll until the run is resumed, then load the answer."""
    run_id = FlowRunContext.get().flow_run.id  # type: ignore[union-attr]
    keyset = state.state_details.run_input_keyset
    with anyio.move_on_after(timeout_s):
        while True:
            await anyio.sleep(poll_s)
            async with get_client() as client:
                run = await client.read_flow_run(run_id)
            if run.state and run.state.is_running():
                return await run_input_subclass_from_type(form).aload(keyset)
    raise AnswerTimeout(f"no answer within {timeout_s} s")
