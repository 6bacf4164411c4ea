"""Where approvals wait: the rule `prospect-outreach` and the fraud check follow."""

from __future__ import annotations

import asyncio

import pytest
from prefect import flow
from prefect.context import FlowRunContext
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


def test_a_pause_whose_reply_was_lost_still_shows_its_form_and_takes_the_answer(prefect_server, monkeypatch):
    """The server commits the pause, its reply is lost, and Prefect's client sends the same transition again
    (as it does after a 503 or a dropped connection): the server refuses the copy as a duplicate. The run is
    paused all the same, so its form must be there and the answer must reach the flow."""
    from prefect.client.base import PrefectHttpxAsyncClient

    from agentflows.approvals import resume_paused_run
    from agentflows.human_input import wait_for_answer

    monkeypatch.setenv("AGENTFLOWS_APPROVAL_WAIT", "pause")
    monkeypatch.setenv("AGENTFLOWS_APPROVAL_POLL_S", "1")
    get_settings.cache_clear()
    send = PrefectHttpxAsyncClient.send
    resent: list[str] = []

    async def reply_lost_once(self, request, *args, **kwargs):
        response = await send(self, request, *args, **kwargs)
        if request.url.path.endswith("/set_state") and b'"PAUSED"' in request.content and not resent:
            resent.append(request.url.path)
            response = await send(self, request, *args, **kwargs)  # the client's retry of the same request
        return response

    monkeypatch.setattr(PrefectHttpxAsyncClient, "send", reply_lost_once)
    run_ids: list[str] = []

    @flow(name="lost-pause-reply")
    async def waits() -> int:
        run_ids.append(str(FlowRunContext.get().flow_run.id))
        answer = await wait_for_answer(Choice, timeout_s=120, key="choice")
        return answer.variant

    try:
        bg = run_in_background(waits)
        run_id = wait_for(lambda: bg.check() or (run_ids and flow_run_state(run_ids[0]) == "PAUSED" and run_ids[0]))
        assert resent, "the pause was not sent twice: the test did not reproduce the lost reply"
        asyncio.run(resume_paused_run(run_id, {"variant": 2}, RuntimeError))
        assert bg.join() == 2
    finally:
        get_settings.cache_clear()
