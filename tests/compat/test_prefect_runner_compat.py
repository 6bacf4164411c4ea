"""The contract `agentflows/compat/prefect_runner.py` patches: Prefect's runner proposing `Pending` for a
run that was paused meanwhile (the receiver claimed and suspended it) raises `Pause`, which its
`propose_pending` does not catch; with the guard it is "not mine to start" and the runner lives on."""

from __future__ import annotations

import asyncio

import pytest
from prefect import flow
from prefect.client.orchestration import get_client
from prefect.client.schemas.objects import StateType
from prefect.exceptions import Pause
from prefect.runner._state_proposer import StateProposer
from prefect.states import Running, Suspended

from agentflows.compat import prefect_runner

pytestmark = pytest.mark.e2e


@flow(name="compat-runner-contract")
def _a_flow() -> None:
    """Only its registration is used: the run is moved by hand through the API."""


async def _suspended_run(client):  # type: ignore[no-untyped-def]
    run = await client.create_flow_run(_a_flow)
    await client.set_flow_run_state(run.id, Running(), force=True)
    await client.set_flow_run_state(run.id, Suspended(timeout_seconds=300, pause_key="approval"), force=True)
    return run


def test_a_run_suspended_before_the_runner_proposes_pending_raises_pause_unless_guarded(prefect_server, monkeypatch):
    original = StateProposer.propose_pending
    monkeypatch.setattr(StateProposer, "propose_pending", original)  # undone after the test

    async def propose() -> tuple[BaseException | bool, bool, StateType]:
        async with get_client() as client:
            run = await _suspended_run(client)
            try:
                unguarded: BaseException | bool = await StateProposer(client=client).propose_pending(run)
            except Pause as exc:  # Prefect 3.9.1: escapes `except Exception` and ends the runner's task group
                unguarded = exc
            prefect_runner.install_paused_run_guard()
            prefect_runner.install_paused_run_guard()  # idempotent: wrapped once
            guarded = await StateProposer(client=client).propose_pending(run)
            state = (await client.read_flow_run(run.id)).state
            return unguarded, guarded, state.type

    unguarded, guarded, state = asyncio.run(propose())
    assert isinstance(unguarded, Pause), (
        f"Prefect now returns {unguarded!r} for a paused run: it handles Pause itself, remove the guard"
    )
    assert guarded is False
    assert state == StateType.PAUSED, "the suspended run is left as it was, for its approval to resume it"
