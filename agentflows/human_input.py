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
from typing import Any, TypeVar

from prefect import get_run_logger
from prefect.context import FlowRunContext
from prefect.exceptions import FlowPauseTimeout, Pause
from prefect.flow_runs import apause_flow_run, asuspend_flow_run

from agentflows.compat.prefect import (
    answer_when_resumed,
    pause_already_fired,
    paused_despite_refusal,
    request_suspension,
    save_form,
)
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


SUSPENDED_NOTE = (
    "; until then this run is suspended and holds no process (Prefect logs that as "
    "'Finished in state Suspended', as expected)"
)


async def wait_for_answer(form: Any, *, timeout_s: int, key: str, waiting: str | None = None) -> Any:
    """Wait for a person to submit `form` (a RunInput, possibly `.with_initial_data(...)`).

    `waiting` (where and how to answer) is logged on the run just before it starts to wait, so its page
    explains itself; not when this pause was answered already (a resumed run replaying to it).
    """
    poll_s = get_settings().approval_poll_s
    if waiting and not pause_already_fired(key):
        get_run_logger().info("%s", waiting + (SUSPENDED_NOTE if waits_without_a_process() else ""))
    if waits_without_a_process():
        # Raises prefect's Pause to end this process; on the run's next start it returns the answer.
        try:
            return await asuspend_flow_run(wait_for_input=form, timeout=timeout_s, key=key)
        except Pause as exc:
            if (state := paused_despite_refusal(exc, key)) is None:
                raise
            await save_form(form, state)
            request_suspension(_current_run_id(), state)
            raise Pause(state=state) from None
    try:
        try:
            return await apause_flow_run(wait_for_input=form, timeout=timeout_s, poll_interval=poll_s, key=key)
        except Pause as exc:
            if (state := paused_despite_refusal(exc, key)) is None:
                raise
            await save_form(form, state)
            answer = await answer_when_resumed(form, _current_run_id(), state, timeout_s, poll_s)
            if answer is None:
                raise AnswerTimeout(f"no answer within {timeout_s} s") from None
            return answer
    except FlowPauseTimeout:
        raise AnswerTimeout(f"no answer within {timeout_s} s") from None


def _current_run_id() -> Any:
    return FlowRunContext.get().flow_run.id  # type: ignore[union-attr]
