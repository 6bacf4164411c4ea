"""What agentflows relies on in Prefect (3.9) beyond its public API, each with its reason.

Contract tests: `tests/compat/test_prefect_compat.py`.
"""

from __future__ import annotations

import asyncio
from contextlib import suppress
from typing import Any
from uuid import UUID
from weakref import WeakKeyDictionary

import anyio
from prefect.client.orchestration import get_client
from prefect.client.schemas.objects import State
from prefect.context import FlowRunContext, SettingsContext, get_settings_context
from prefect.exceptions import ObjectAlreadyExists, Pause
from prefect.input.run_input import run_input_subclass_from_type
from prefect.settings import PREFECT_CLIENT_MAX_RETRIES

# -- a pause whose reply was lost ---------------------------------------------------------------------

DUPLICATE_TRANSITION = "already made this state transition"
"""The server's refusal of a transition it has already committed (`prefect.server.orchestration.
core_policy`: "This run has already made this state transition."). Prefect 3.9 still raises it to the
pausing flow as a `Pause` (unchanged from 3.8)."""


def paused_despite_refusal(exc: Pause, key: str) -> State | None:
    """The paused state when Prefect raised `Pause` for a pause that did happen, else None.

    Under load the server can commit the pause and answer too late; Prefect's client then sends the
    same transition again, the server refuses it as a duplicate and returns the run's state, and
    Prefect raises that refusal instead of saving the form and waiting. The run *is* paused with our
    key, so the caller saves the form (`save_form`) and goes on as Prefect would have. None for any
    other `Pause`, e.g. the one a suspend raises on purpose.
    """
    state = exc.state
    if DUPLICATE_TRANSITION not in str(exc) or state is None or not state.is_paused():
        return None
    if state.state_details.pause_key != key:
        return None
    return state


async def save_form(form: Any, state: State) -> None:
    """Save a pause's form schema under the paused state's keyset, as `apause_flow_run` does once paused."""
    if (keyset := state.state_details.run_input_keyset) is not None:
        with suppress(ObjectAlreadyExists):
            await run_input_subclass_from_type(form).asave(keyset)


def request_suspension(flow_run_id: UUID, state: State) -> bool:
    """Tell Prefect's engine this run is suspending, as `asuspend_flow_run` does before raising `Pause`.

    Private (`prefect._flow_run_suspension`, new in 3.9's suspension handling): the engine ends a run as
    Suspended when its in-process suspension request is marked, and Prefect's own `asuspend_flow_run`
    marks it before raising. The `Pause` re-raised for a lost suspend reply must do the same. False when
    the engine has no request registered for the run.
    """
    from prefect._flow_run_suspension import mark_flow_run_suspension_requested

    return mark_flow_run_suspension_requested(flow_run_id, state)


async def answer_when_resumed(form: Any, flow_run_id: UUID, state: State, timeout_s: float, poll_s: float) -> Any:
    """What `apause_flow_run` does once paused: poll until the run runs again, then load the answer.

    A copy of the waiting half of Prefect's `apause_flow_run` (resumed = the run's state is Running; the
    answer is the run input saved under the paused state's keyset), for the pause Prefect refused to
    wait on (`paused_despite_refusal`). Returns None on timeout.
    """
    keyset = state.state_details.run_input_keyset
    with anyio.move_on_after(timeout_s):
        while True:
            await anyio.sleep(poll_s)
            async with get_client() as client:
                run = await client.read_flow_run(flow_run_id)
            if run.state and run.state.is_running():
                return await run_input_subclass_from_type(form).aload(keyset)
    return None


# -- which pause a run waits on ------------------------------------------------------------------------------


async def current_pause_key(flow_run_id: UUID) -> str | None:
    """The key the run's current pause was made with, or None when the run is not paused (or suspended).

    Relies on `pause_flow_run(key=...)` / `suspend_flow_run(key=...)` putting `key` into the Paused (or
    Suspended) state's `state_details.pause_key`, and on `resume_flow_run` saving the answer under the
    keyset `keyset_from_paused_state` derives from that same key: so the key read here names the pause a
    resume now answers. A form field could be edited by whoever answers; the key cannot.
    """
    async with get_client() as client:
        run = await client.read_flow_run(flow_run_id)
    state = run.state
    if state is None or not state.is_paused():
        return None
    return state.state_details.pause_key


def pause_already_fired(key: str) -> bool:
    """True when the current run paused with `key` before: pausing with it again hands back the stored answer.

    Relies on the server recording every pause key that fired in the run's `empirical_policy.pause_keys`
    (`HandlePausingFlows`, which then refuses the same key again and the client loads the answer), and on
    the engine reading the run, that policy included, when it starts: a resumed suspended run replaying to
    its suspend has the key there. So a "waiting for a reviewer" line is logged only before a real wait.
    """
    context = FlowRunContext.get()
    run = context.flow_run if context else None
    return bool(run and key in (run.empirical_policy.pause_keys or set()))


# -- resuming a run whose form is not saved yet ---------------------------------------------------------

MISSING_FORM_SCHEMA = "schema not found"


def is_missing_form_schema(exc: RuntimeError) -> bool:
    """True for `resume_flow_run`'s refusal of a run that shows Paused before its form schema is saved.

    Prefect raises a bare RuntimeError ("Cannot resume flow run ... schema not found") for it; the run
    will accept the same answer a moment later, so callers wait and try again.
    """
    return MISSING_FORM_SCHEMA in str(exc)


# -- one long-lived client per event loop ------------------------------------------------------------------

_loop_clients: WeakKeyDictionary[asyncio.AbstractEventLoop, Any] = WeakKeyDictionary()


async def loop_client() -> Any:
    """A Prefect client kept open for the life of the running event loop (opening one costs ~20 ms).

    `get_client()` is an async context manager; this one is entered by hand and never exited, on purpose.
    The provider pools' last act when `asyncio.run` closes a loop is to hand their leases back, from
    tasks that the loop is cancelling at the same moment; a client exited by a cancelled keeper task was
    already closed then and the slots stayed taken (`test_requests_in_flight_never_exceed_the_limit_
    across_workers` caught it). The client's connections go with the loop's transports when it closes.
    """
    loop = asyncio.get_running_loop()
    if loop not in _loop_clients:
        client = get_client()
        await client.__aenter__()
        _loop_clients[loop] = client
    return _loop_clients[loop]


# -- a client that does not back off for seconds --------------------------------------------------------

_no_retry_settings: dict[int, tuple[Any, Any]] = {}  # id(settings) -> (those settings, their no-retry copy)


def without_client_retries() -> SettingsContext:
    """The current Prefect settings with the client's own retries off, as a context (cached per settings).

    A SQLite Prefect server busy with a batch's task runs answers some limit updates 503 at once (a
    write that lost a race with another). Prefect's client waits 2, then 4, then 8 s before trying
    again, while every request waiting on a provider pool waits too (measured: 2-13 s stalls). The
    pools retry those themselves within a tenth of a second. Prefect has no per-call retry switch, so
    this enters a settings context whose `PREFECT_CLIENT_MAX_RETRIES` is 0; the client reads it per
    request.
    """
    current = get_settings_context()
    cached = _no_retry_settings.get(id(current.settings))
    if cached is None or cached[0] is not current.settings:  # kept alongside, so an id is never reused
        copy = current.settings.copy_with_update(updates={PREFECT_CLIENT_MAX_RETRIES: 0})
        cached = _no_retry_settings[id(current.settings)] = (current.settings, copy)
    return SettingsContext(profile=current.profile, settings=cached[1])
