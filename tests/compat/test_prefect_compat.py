"""Contracts with Prefect that `agentflows/compat/prefect.py` relies on: each fails loudly when an upgrade
changes the behaviour, so the fix goes into the compat module, not into the flows."""

from __future__ import annotations

import asyncio
import inspect
from uuid import uuid4

import pytest
from prefect import flow
from prefect.client.orchestration import get_client
from prefect.client.schemas.objects import StateType
from prefect.exceptions import Pause
from prefect.flow_runs import apause_flow_run, aresume_flow_run
from prefect.input.run_input import keyset_from_paused_state
from prefect.states import Paused, Running, Suspended

from agentflows.compat import prefect as compat

pytestmark = pytest.mark.e2e


@flow(name="compat-contract")
def _a_flow() -> None:
    """Only its registration is used: runs are created and moved by hand through the API."""


async def _running_run(client):
    run = await client.create_flow_run(_a_flow)
    await client.set_flow_run_state(run.id, Running(), force=True)
    return run


def test_a_repeated_transition_is_refused_with_the_wording_we_match(prefect_server):
    """The client's resend of a pause whose reply was lost (same request, same transition id)."""
    from prefect.client.schemas.responses import OrchestrationResult
    from prefect.states import to_state_create

    async def main():
        async with get_client() as client:
            run = await _running_run(client)
            state_create = to_state_create(Paused(timeout_seconds=60, pause_key="k"))
            state_create.state_details.flow_run_id = run.id
            state_create.state_details.transition_id = uuid4()
            body = {"state": state_create.model_dump(mode="json", serialize_as_any=True), "force": False}
            replies = [await client._client.post(f"/flow_runs/{run.id}/set_state", json=body) for _ in range(2)]
            return [OrchestrationResult.model_validate(reply.json()) for reply in replies]

    first, second = asyncio.run(main())
    assert first.status.value == "ACCEPT"
    assert second.status.value == "REJECT"
    assert compat.DUPLICATE_TRANSITION in second.details.reason
    assert second.state.type == StateType.PAUSED  # the refusal hands back the paused state

    refused = Pause(second.details.reason, state=second.state)
    assert compat.paused_despite_refusal(refused, "k") is second.state
    assert compat.paused_despite_refusal(refused, "another key") is None
    assert compat.paused_despite_refusal(Pause("suspending on purpose", state=second.state), "k") is None


def test_resuming_before_the_form_is_saved_is_refused_with_the_wording_we_match(prefect_server):
    async def main():
        async with get_client() as client:
            run = await _running_run(client)
            state = Paused(timeout_seconds=60, pause_key="k")
            state.state_details.run_input_keyset = keyset_from_paused_state(state)
            await client.set_flow_run_state(run.id, state)
        with pytest.raises(RuntimeError) as refused:
            await aresume_flow_run(run.id, run_input={"variant": 1})
        return refused.value

    error = asyncio.run(main())
    assert compat.is_missing_form_schema(error), str(error)


def test_the_engine_takes_a_suspension_request_for_a_registered_run():
    from prefect._flow_run_suspension import FlowRunSuspensionRequest, register_flow_run_suspension_request

    request, run_id, state = FlowRunSuspensionRequest(), uuid4(), Suspended(timeout_seconds=60)
    assert compat.request_suspension(run_id, state) is False  # no engine is running that run
    with register_flow_run_suspension_request(run_id, request):
        assert compat.request_suspension(run_id, state) is True
    assert request.get_state() is state


def test_answer_when_resumed_waits_as_prefect_pause_does():
    """Our copy of the waiting half of `apause_flow_run`: resumed means Running, the answer is the input
    saved under the paused state's keyset. If Prefect's own loop stops reading either, ours is stale."""
    source = inspect.getsource(apause_flow_run)
    assert "flow_run.state.is_running()" in source
    assert "wait_for_input.aload(run_input_keyset)" in source
    assert "wait_for_input.asave(run_input_keyset)" in source


def test_the_client_reads_its_retry_setting_per_request(httpserver):
    """`without_client_retries` works only while Prefect's client reads PREFECT_CLIENT_MAX_RETRIES per
    request: one 503 then means one request, not four over 14 s of back-off."""
    from prefect.client.orchestration import PrefectClient

    httpserver.expect_request("/api/health").respond_with_data("busy", status=503)

    async def main():
        async with PrefectClient(httpserver.url_for("/api")) as client:
            with compat.without_client_retries():
                response = await client._client.get("/health")
        return response

    with pytest.raises(Exception) as refused:
        asyncio.run(main())
    assert "503" in str(refused.value)
    assert len(httpserver.log) == 1


def test_one_client_per_event_loop_stays_usable_while_the_loop_closes(prefect_server):
    """The pools hand leases back from tasks `asyncio.run` is cancelling; the loop's client must still answer."""
    answers: list[int] = []

    async def release_on_close() -> None:
        try:
            await asyncio.Event().wait()
        finally:  # cancelled by asyncio.run's shutdown, like a pool's idle-lease task
            client = await compat.loop_client()
            answers.append((await client.hello()).status_code)

    async def main() -> tuple[object, object]:
        asyncio.get_running_loop().create_task(release_on_close())
        await asyncio.sleep(0)
        return await compat.loop_client(), await compat.loop_client()

    first, second = asyncio.run(main())
    assert first is second
    assert answers == [200]
