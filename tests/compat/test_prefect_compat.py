"""Contracts with Prefect that `agentflows/compat/prefect.py` relies on: each fails loudly when an upgrade
changes the behaviour, so the fix goes into the compat module, not into the flows."""

from __future__ import annotations

import asyncio
import inspect
from uuid import UUID, uuid4

import pytest
from prefect import flow
from prefect.client.orchestration import get_client
from prefect.client.schemas.objects import StateType
from prefect.exceptions import Pause
from prefect.flow_runs import apause_flow_run, aresume_flow_run
from prefect.input import RunInput
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


class _Answer(RunInput):
    value: int


@flow(name="compat-pause-key")
async def _pauses_with_a_key(key: str) -> int:
    answer = await apause_flow_run(wait_for_input=_Answer, timeout=90, poll_interval=1, key=key)
    return answer.value


def test_the_pause_key_names_the_pause_a_resume_answers(prefect_server):
    """`current_pause_key` reads the key a pause was made with from the run's state; a resume saves its answer
    under the keyset named after that key, and the paused flow reads it from there. So the command line's check
    (the digest in the key = the database's) is a check on what its answer will answer."""
    from prefect.input import keyset_from_base_key
    from prefect.input.actions import read_flow_run_input

    from tests.helpers import run_in_background, wait_for

    key = "approval-0123abcd-1"
    bg = run_in_background(lambda: _pauses_with_a_key(key))

    async def paused_run_id() -> str | None:
        async with get_client() as client:
            runs = await client.read_flow_runs(limit=20)
        found = [r for r in runs if r.name and r.state and r.state.is_paused() and r.parameters.get("key") == key]
        return str(found[0].id) if found else None

    run_id = wait_for(lambda: bg.check() or asyncio.run(paused_run_id()), what="the run to pause")
    assert asyncio.run(compat.current_pause_key(UUID(run_id))) == key

    async def answer() -> object:
        while True:
            try:
                await aresume_flow_run(UUID(run_id), run_input={"value": 7})
                break
            except RuntimeError as exc:  # the form is saved a moment after the pause
                assert compat.is_missing_form_schema(exc), exc
                await asyncio.sleep(0.2)
        return await read_flow_run_input(keyset_from_base_key(f"paused-{key}")["response"], flow_run_id=UUID(run_id))

    assert asyncio.run(answer()) == {"value": 7}
    assert bg.join() == 7
    assert asyncio.run(compat.current_pause_key(UUID(run_id))) is None  # not paused any more


def test_a_suspended_run_keeps_its_pause_key_too(prefect_server):
    """A suspend (a deployment's run, served approvals) is a PAUSED state named Suspended, with the same key."""

    async def main():
        deployment_id = await (await _a_flow.ato_deployment(name="compat-suspend")).apply()
        async with get_client() as client:
            run = await client.create_flow_run_from_deployment(deployment_id)
            await client.set_flow_run_state(run.id, Running(), force=True)
            result = await client.set_flow_run_state(
                run.id, Suspended(timeout_seconds=60, pause_key="fraud-review-ab12-1")
            )
        assert result.status.value == "ACCEPT", result.details
        return await compat.current_pause_key(run.id)

    assert asyncio.run(main()) == "fraud-review-ab12-1"


@flow(name="compat-fired-keys")
async def _suspends_once() -> tuple[bool, int]:
    from prefect.flow_runs import asuspend_flow_run

    fired = compat.pause_already_fired("compat-fired-1")
    answer = await asuspend_flow_run(wait_for_input=_Answer, timeout=60, key="compat-fired-1")
    return fired, answer.value


def test_a_replayed_run_knows_its_pause_key_fired(prefect_server):
    """A resumed suspended run starts again from the top; by its suspend the key is among the run's fired pause
    keys (and the suspend hands back the answer at once), on its first execution it is not."""
    from prefect.flow_engine import run_flow_async

    async def main() -> tuple[bool, int]:
        deployment_id = await (await _suspends_once.ato_deployment(name="compat-fired")).apply()
        async with get_client() as client:
            run = await client.create_flow_run_from_deployment(deployment_id)
            with pytest.raises(Pause):
                await run_flow_async(_suspends_once, flow_run=run)
            while True:
                try:
                    await aresume_flow_run(run.id, run_input={"value": 5})
                    break
                except RuntimeError as exc:
                    assert compat.is_missing_form_schema(exc), exc
                    await asyncio.sleep(0.2)
            return await run_flow_async(_suspends_once, flow_run=await client.read_flow_run(run.id))

    assert asyncio.run(main()) == (True, 5)
    assert compat.pause_already_fired("compat-fired-1") is False  # outside a flow run


def test_a_first_pause_has_not_fired(prefect_server):
    @flow(name="compat-not-fired")
    def first_time() -> bool:
        return compat.pause_already_fired("never-paused-1")

    assert first_time() is False
