"""Stale approvals call for attention: the Prefect automation on a real server, its email, the CLI listing.

Runs are created directly in Paused/Suspended through the API (the server emits the same state events as
for a flow that pauses itself); the threshold is Prefect's floor for proactive triggers, 10 s.
"""

from __future__ import annotations

import asyncio
import time
from uuid import uuid4

import pytest
from prefect.client.orchestration import get_client
from prefect.states import Paused, Running, Suspended

from agentflows import stale_approvals
from agentflows.settings import get_settings
from flows.fraud_check import fraud_check
from flows.prospect_outreach import outreach_approval

pytestmark = pytest.mark.e2e

STALE_AFTER_S = 10


@pytest.fixture
def stale_setting(monkeypatch, smtp_sink, prefect_server):
    """A 10 s threshold, the SMTP sink as `AGENTFLOWS_SMTP_URL`; the automation and block removed after."""
    monkeypatch.setenv("AGENTFLOWS_APPROVAL_STALE_AFTER_S", str(STALE_AFTER_S))
    get_settings.cache_clear()
    yield smtp_sink
    asyncio.run(_remove_automation_and_blocks())
    get_settings.cache_clear()


async def _remove_automation_and_blocks() -> None:
    async with get_client() as client:
        for automation in await client.read_automations_by_name(stale_approvals.AUTOMATION_NAME):
            await client.delete_automation(automation.id)
        for document in await client.read_block_documents(include_secrets=False):
            if document.name == stale_approvals.BLOCK_NAME:
                await client.delete_block_document(document.id)


async def _paused_run(flow, name: str, suspended: bool = False):
    state = Suspended(pause_key=str(uuid4())) if suspended else Paused(reschedule=True, pause_key=str(uuid4()))
    async with get_client() as client:
        return await client.create_flow_run(flow, name=name, parameters={}, state=state)


def _subjects(sink) -> list[str]:
    return [str(m["Subject"]) for m in sink.messages]


def _body(sink, name: str) -> str:
    message = next(m for m in sink.messages if name in str(m["Subject"]))
    part = message.get_body(("plain",)) or message
    return part.get_content()


def test_a_review_left_waiting_sends_an_email_and_one_answered_in_time_does_not(stale_setting):
    sink = stale_setting
    tag = uuid4().hex[:6]
    line = asyncio.run(stale_approvals.ensure_stale_automation())
    assert "notifies through block" in line

    async def start():
        stale = await _paused_run(outreach_approval, f"outreach-approval-stale-{tag}")
        fraud = await _paused_run(fraud_check, f"fraud-check-stale-{tag}", suspended=True)
        answered = await _paused_run(outreach_approval, f"outreach-approval-answered-{tag}")
        await asyncio.sleep(2)
        async with get_client() as client:  # the reviewer answers: the run leaves Paused well within 10 s
            await client.set_flow_run_state(answered.id, Running(), force=True)
        return stale, fraud, answered

    stale, fraud, answered = asyncio.run(start())
    started = time.monotonic()
    deadline = started + 60
    while time.monotonic() < deadline:
        subjects = _subjects(sink)
        if any(stale.name in s for s in subjects) and any(fraud.name in s for s in subjects):
            break
        time.sleep(0.5)
    else:
        pytest.fail(f"no notification for both stale runs within 60 s; got {_subjects(sink)}")
    assert time.monotonic() - started >= STALE_AFTER_S - 3, "notified before the threshold"
    time.sleep(6)  # past the answered run's would-be deadline, and another proactive evaluation (every 5 s)

    subjects = _subjects(sink)
    assert not any(answered.name in s for s in subjects), subjects
    assert sum(stale.name in s for s in subjects) == 1, subjects  # one notification per wait, not per evaluation
    body = _body(sink, stale.name)
    assert "outreach-approval" in body and "10 s" in body
    assert f"/runs/flow-run/{stale.id}" in body
    assert "agentflows approvals --stale" in body
    assert "fraud-check" in _body(sink, fraud.name)

    waits = asyncio.run(stale_approvals.stale_waits())
    listed = {w.flow_run_name: w for w in waits}
    assert listed[stale.name].kind == "approval"
    assert listed[fraud.name].kind == "fraud review" and listed[fraud.name].state == "Suspended"
    assert answered.name not in listed

    from typer.testing import CliRunner

    from agentflows.cli import app

    result = CliRunner().invoke(app, ["approvals", "--stale"], env={"COLUMNS": "250"})
    assert result.exit_code == 0, result.output
    assert stale.name in result.output and fraud.name in result.output
    assert answered.name not in result.output


def test_the_automation_is_made_once_and_uses_a_block_the_user_named(stale_setting, prefect_server):
    """Deploying again updates the one automation; a user's block of the name (here a custom webhook,
    e.g. a Slack one in real life) is used as is, never replaced by the demo's email block."""
    from prefect.blocks.notifications import CustomWebhookNotificationBlock

    users_block = CustomWebhookNotificationBlock(
        name="team", url="http://127.0.0.1:9/hook", json_data={"t": "{{body}}"}
    )
    block_id = users_block.save(stale_approvals.BLOCK_NAME)

    asyncio.run(stale_approvals.ensure_stale_automation())
    asyncio.run(stale_approvals.ensure_stale_automation())

    async def read():
        async with get_client() as client:
            return await client.read_automations_by_name(stale_approvals.AUTOMATION_NAME)

    automations = asyncio.run(read())
    assert len(automations) == 1
    (automation,) = automations
    assert automation.actions[0].block_document_id == block_id
    trigger = automation.trigger
    assert trigger.posture == "Proactive" and trigger.within.total_seconds() == STALE_AFTER_S
    assert trigger.after == {"prefect.flow-run.Paused", "prefect.flow-run.Suspended"}


def test_no_block_and_no_local_sink_means_no_automation_and_says_how(monkeypatch, prefect_server):
    monkeypatch.setenv("AGENTFLOWS_SMTP_URL", "smtps://mail.example.com:465")
    get_settings.cache_clear()
    asyncio.run(_remove_automation_and_blocks())
    try:
        line = asyncio.run(stale_approvals.ensure_stale_automation())
        assert "no automation" in line and stale_approvals.BLOCK_NAME in line
    finally:
        get_settings.cache_clear()


def test_deploying_makes_the_automation(stale_setting, prefect_server):
    """`apply_to_pool` (`up --workers`, `python -m deployments.serve --pool`) and `serve_all` (`up`) make it."""
    from deployments.serve import apply_to_pool

    apply_to_pool(f"stale-{uuid4().hex[:6]}")

    async def read():
        async with get_client() as client:
            return await client.read_automations_by_name(stale_approvals.AUTOMATION_NAME)

    (automation,) = asyncio.run(read())
    assert automation.enabled
