"""Where approvals wait (the rule `prospect-outreach` and the fraud check follow), and that a pause or suspend
whose reply the server sent but the client lost still leaves its form and takes the answer."""

from __future__ import annotations

import asyncio

import pytest
from prefect import flow
from prefect.context import FlowRunContext
from prefect.exceptions import Pause
from prefect.input import RunInput

from agentflows.human_input import served_by_a_worker, waits_without_a_process
from agentflows.settings import get_settings
from tests.helpers import flow_run_state, run_in_background, wait_for


@pytest.mark.parametrize(
    ("mode", "worker_process", "dispatch", "suspend"),
    [
        ("auto", False, False, False),  # a terminal: approvals pause in this process
        ("auto", True, True, False),  # a runner's process (e.g. the scheduled batch's subflow): own runs
        ("pause", True, False, False),
        ("suspend", False, True, True),
    ],
)
def test_where_approvals_wait(monkeypatch, mode, worker_process, dispatch, suspend):
    monkeypatch.setenv("AGENTFLOWS_APPROVAL_WAIT", mode)
    if worker_process:
        monkeypatch.setenv("PREFECT__FLOW_RUN_ID", "00000000-0000-0000-0000-000000000001")
    else:
        monkeypatch.delenv("PREFECT__FLOW_RUN_ID", raising=False)
    get_settings.cache_clear()
    try:
        assert served_by_a_worker() is dispatch
        assert waits_without_a_process() is suspend  # outside any flow run: only a forced mode suspends
    finally:
        get_settings.cache_clear()


class Choice(RunInput):
    variant: int


@flow(name="lost-reply-waits")
async def lost_reply_waits() -> int:
    from agentflows.human_input import wait_for_answer

    answer = await wait_for_answer(Choice, timeout_s=120, key="choice")
    return answer.variant


def lose_the_first_pause_reply(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The server commits the pause, its reply is lost, and Prefect's client sends the same transition again
    (as it does after a 503 or a dropped connection): the server refuses the copy as a duplicate."""
    from prefect.client.base import PrefectHttpxAsyncClient

    send = PrefectHttpxAsyncClient.send
    resent: list[str] = []

    async def reply_lost_once(self, request, *args, **kwargs):  # type: ignore[no-untyped-def]
        response = await send(self, request, *args, **kwargs)
        if request.url.path.endswith("/set_state") and b'"PAUSED"' in request.content and not resent:
            resent.append(request.url.path)
            response = await send(self, request, *args, **kwargs)  # the client's retry of the same request
        return response

    monkeypatch.setattr(PrefectHttpxAsyncClient, "send", reply_lost_once)
    return resent


def test_a_pause_whose_reply_was_lost_still_shows_its_form_and_takes_the_answer(prefect_server, monkeypatch):
    """The run is paused all the same (in this process), so its form must be there and the answer must reach it."""
    from agentflows.approvals import resume_paused_run

    monkeypatch.setenv("AGENTFLOWS_APPROVAL_WAIT", "pause")
    monkeypatch.setenv("AGENTFLOWS_APPROVAL_POLL_S", "1")
    get_settings.cache_clear()
    resent = lose_the_first_pause_reply(monkeypatch)
    run_ids: list[str] = []

    @flow(name="lost-pause-reply")
    async def waits() -> int:
        run_ids.append(str(FlowRunContext.get().flow_run.id))
        return await lost_reply_waits.fn()

    try:
        bg = run_in_background(waits)
        run_id = wait_for(lambda: bg.check() or (run_ids and flow_run_state(run_ids[0]) == "PAUSED" and run_ids[0]))
        assert resent, "the pause was not sent twice: the test did not reproduce the lost reply"
        asyncio.run(resume_paused_run(run_id, {"variant": 2}, RuntimeError))
        assert bg.join() == 2
    finally:
        get_settings.cache_clear()


def test_a_suspend_whose_reply_was_lost_still_saves_its_form_and_resumes(prefect_server, monkeypatch):
    """A deployment's run suspends (leaves its process): with the reply lost, it must still leave its form
    behind, and the run started again must get the answer."""
    from prefect.client.orchestration import get_client
    from prefect.flow_engine import run_flow_async

    from agentflows.approvals import resume_paused_run

    monkeypatch.setenv("AGENTFLOWS_APPROVAL_WAIT", "suspend")
    get_settings.cache_clear()
    resent = lose_the_first_pause_reply(monkeypatch)

    async def suspend_then_resume() -> tuple[object, object]:
        deployment = await lost_reply_waits.ato_deployment(name="lost-reply-test")
        deployment_id = await deployment.apply()
        async with get_client() as client:
            run = await client.create_flow_run_from_deployment(deployment_id)
            with pytest.raises(Pause):  # the run leaves its process, as under a runner
                await run_flow_async(lost_reply_waits, flow_run=run)
            suspended = (await client.read_flow_run(run.id)).state
            await resume_paused_run(str(run.id), {"variant": 3}, RuntimeError)
            again = await run_flow_async(lost_reply_waits, flow_run=await client.read_flow_run(run.id))
        return suspended, again

    try:
        suspended, answer = asyncio.run(suspend_then_resume())
        assert resent, "the suspend was not sent twice: the test did not reproduce the lost reply"
        assert suspended.name == "Suspended", suspended  # type: ignore[attr-defined]
        assert answer == 3
    finally:
        get_settings.cache_clear()


@flow(name="announces-its-wait")
async def announces_its_wait() -> int:
    from agentflows.human_input import wait_for_answer

    answer = await wait_for_answer(Choice, timeout_s=120, key="announced-1", waiting="waiting for a reviewer: here")
    return answer.variant


def test_the_waiting_line_is_logged_before_the_wait_and_not_on_the_replay(prefect_server, monkeypatch, caplog):
    """A suspended run logs where to answer once, just before it suspends; the replay after the answer, which
    gets the answer at once, says nothing about waiting."""
    import logging

    from prefect.client.orchestration import get_client
    from prefect.flow_engine import run_flow_async

    from agentflows.approvals import resume_paused_run

    monkeypatch.setenv("AGENTFLOWS_APPROVAL_WAIT", "suspend")
    get_settings.cache_clear()
    caplog.set_level(logging.INFO, logger="prefect")

    def waiting_lines() -> list[str]:
        return [r.getMessage() for r in caplog.records if r.getMessage().startswith("waiting for a reviewer")]

    async def suspend_then_resume() -> tuple[list[str], object]:
        deployment_id = await (await announces_its_wait.ato_deployment(name="announce-test")).apply()
        async with get_client() as client:
            run = await client.create_flow_run_from_deployment(deployment_id)
            with pytest.raises(Pause):
                await run_flow_async(announces_its_wait, flow_run=run)
            before = waiting_lines()
            await resume_paused_run(str(run.id), {"variant": 2}, RuntimeError)
            again = await run_flow_async(announces_its_wait, flow_run=await client.read_flow_run(run.id))
        return before, again

    try:
        before, answer = asyncio.run(suspend_then_resume())
        assert answer == 2
        assert before == [
            "waiting for a reviewer: here; until then this run is suspended and holds no process (Prefect logs that "
            "as 'Finished in state Suspended', as expected)"
        ]
        assert waiting_lines() == before, "the replay logged the waiting line again"
    finally:
        get_settings.cache_clear()
