"""Stale approvals call for attention: a Prefect automation that notifies when a review waits too long.

The automation `agentflows-stale-approvals` (created or updated whenever the deployments are served or
applied, so `agentflows up` makes it) is a proactive event trigger, one bucket per flow run:

    after   prefect.flow-run.Paused / prefect.flow-run.Suspended   of an `outreach-approval` or `fraud-check` run
    expect  any other state event of that run (resumed, cancelled, timed out, ...)
    within  `approval_stale_after_s` (default 24 h; Prefect's floor for proactive triggers is 10 s)

and its action is `SendNotification` through the notification block named `agentflows-stale-approvals`.
Any Prefect notification block of that name works (Slack, Teams, a custom webhook, ...): it is looked up
by name whatever its type, and an existing one is never overwritten. Without one, and when
`AGENTFLOWS_SMTP_URL` is on loopback (the demo's SMTP sink), an email block to that sink is created.

`stale_waits()` lists the same runs from the API, for `agentflows approvals --stale`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parseaddr
from typing import Any
from urllib.parse import urlparse
from uuid import UUID

from agentflows.settings import Settings, get_settings

AUTOMATION_NAME = "agentflows-stale-approvals"
BLOCK_NAME = "agentflows-stale-approvals"
WAITING_FLOWS = {"outreach-approval": "approval", "fraud-check": "fraud review"}
WAITING_EVENTS = {"prefect.flow-run.Paused", "prefect.flow-run.Suspended"}  # state names of type PAUSED
LOOPBACK = {"127.0.0.1", "localhost", "::1"}

SUBJECT = "Waiting for a reviewer: {{ flow_run.name }}"
BODY = """\
{{ flow_run.name }} ({{ flow.name }}) has been waiting for a reviewer for more than {wait}.

Open it: {{ flow_run|ui_url }}
Or list everything waiting: agentflows approvals --stale
"""

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class StaleWait:
    flow_run_id: str
    flow_run_name: str
    kind: str  # "approval" or "fraud review"
    state: str
    waiting_since: datetime
    waited: timedelta


def describe(seconds: float) -> str:
    """`24 h`, `90 min`, `10 s`: a threshold as the notification and the CLI say it."""
    if seconds >= 3600 and seconds % 3600 == 0:
        return f"{int(seconds // 3600)} h"
    if seconds >= 60 and seconds % 60 == 0:
        return f"{int(seconds // 60)} min"
    return f"{seconds:g} s"


# --- the notification block ------------------------------------------------------------------------


def _smtp_sink_address(settings: Settings) -> tuple[str, int] | None:
    url = urlparse(settings.smtp_url)
    if url.scheme == "smtp" and url.hostname in LOOPBACK:
        return url.hostname, url.port or 25
    return None


async def _find_block(client: Any) -> UUID | None:
    """The id of the notification block named BLOCK_NAME, of any block type, if one exists.

    A block of another type than the demo's email block wins over it (the user made it later); a user's
    block of the same type replaces the demo's by being saved with `overwrite=True`.
    """
    from agentflows.compat.prefect_notifications import EMAIL_BLOCK_TYPE

    found = []
    offset = 0
    while page := await client.read_block_documents(offset=offset, limit=200, include_secrets=False):
        for document in page:
            capabilities = document.block_schema.capabilities if document.block_schema else []
            if document.name == BLOCK_NAME and "notify" in capabilities:
                found.append(document)
        offset += len(page)
    found.sort(key=lambda d: d.block_type is not None and d.block_type.slug == EMAIL_BLOCK_TYPE.get_block_type_slug())
    return found[0].id if found else None


async def ensure_notification_block(settings: Settings) -> UUID | None:
    """The block the automation notifies through: the user's, else an email to the local sink, else None."""
    from prefect.client.orchestration import get_client

    from agentflows.compat.prefect_notifications import email_block

    async with get_client() as client:
        found = await _find_block(client)
    if found is not None:
        return found
    address = _smtp_sink_address(settings)
    if address is None:
        return None
    sender = parseaddr(settings.mail_from)[1] or "outreach@agentflows.example"
    block = email_block(address[0], address[1], sender=sender, recipient=sender)
    return await block.save(BLOCK_NAME, overwrite=False)


# --- the automation --------------------------------------------------------------------------------


def build_automation(block_document_id: UUID, stale_after_s: int) -> Any:
    """The automation (a `prefect.events.schemas.automations.AutomationCore`), not yet created."""
    from prefect.events.actions import SendNotification
    from prefect.events.schemas.automations import AutomationCore, EventTrigger, Posture

    wait = describe(stale_after_s)
    return AutomationCore(
        name=AUTOMATION_NAME,
        description=(
            f"An approval or fraud review has waited in Paused for more than {wait} (AGENTFLOWS_APPROVAL_STALE_AFTER_S)"
            f"; notifies through the block {BLOCK_NAME!r}. Made by agentflows whenever its deployments are deployed."
        ),
        enabled=True,
        trigger=EventTrigger(
            posture=Posture.Proactive,
            match={"prefect.resource.id": "prefect.flow-run.*"},
            match_related={"prefect.resource.role": "flow", "prefect.resource.name": sorted(WAITING_FLOWS)},
            after=WAITING_EVENTS,
            expect={"prefect.flow-run.*"},  # the pause event itself does not count (Prefect starts its bucket at -1)
            for_each={"prefect.resource.id"},
            threshold=1,
            within=timedelta(seconds=stale_after_s),
        ),
        actions=[
            SendNotification(block_document_id=block_document_id, subject=SUBJECT, body=BODY.replace("{wait}", wait))
        ],
    )


async def ensure_stale_automation(settings: Settings | None = None) -> str:
    """Create or update the automation (idempotent); returns a line saying what is in place."""
    from prefect.client.orchestration import get_client

    settings = settings or get_settings()
    block_id = await ensure_notification_block(settings)
    if block_id is None:
        return (
            f"stale approvals: no automation (no notification block {BLOCK_NAME!r} and AGENTFLOWS_SMTP_URL is not "
            "a local sink); create one, e.g. a Slack Webhook block of that name, and deploy again"
        )
    automation = build_automation(block_id, settings.approval_stale_after_s)
    async with get_client() as client:
        existing = await client.read_automations_by_name(AUTOMATION_NAME)
        if existing:
            await client.update_automation(existing[0].id, automation)
            for duplicate in existing[1:]:  # two deploys racing once: keep one
                await client.delete_automation(duplicate.id)
        else:
            await client.create_automation(automation)
    return (
        f"stale approvals: automation {AUTOMATION_NAME!r} notifies through block {BLOCK_NAME!r} after "
        f"{describe(settings.approval_stale_after_s)}"
    )


def ensure_stale_automation_sync(settings: Settings | None = None) -> str:
    from prefect.utilities.asyncutils import run_coro_as_sync

    return run_coro_as_sync(ensure_stale_automation(settings))


# --- the listing -----------------------------------------------------------------------------------


async def stale_waits(settings: Settings | None = None, now: datetime | None = None) -> list[StaleWait]:
    """Approvals and fraud reviews paused longer than `approval_stale_after_s`, longest wait first."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        FlowFilter,
        FlowFilterName,
        FlowRunFilter,
        FlowRunFilterState,
        FlowRunFilterStateType,
    )
    from prefect.client.schemas.objects import StateType

    settings = settings or get_settings()
    now = now or datetime.now(UTC)
    threshold = timedelta(seconds=settings.approval_stale_after_s)
    async with get_client() as client:
        flows = {
            f.id: f.name
            for f in await client.read_flows(flow_filter=FlowFilter(name=FlowFilterName(any_=sorted(WAITING_FLOWS))))
        }
        runs = await client.read_flow_runs(
            flow_filter=FlowFilter(name=FlowFilterName(any_=sorted(WAITING_FLOWS))),
            flow_run_filter=FlowRunFilter(
                state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.PAUSED]))
            ),
            limit=200,
        )
    stale = []
    for run in runs:
        since = run.state.timestamp if run.state else None
        if since is None or now - since < threshold:
            continue
        stale.append(
            StaleWait(
                flow_run_id=str(run.id),
                flow_run_name=run.name,
                kind=WAITING_FLOWS.get(flows.get(run.flow_id, ""), "review"),
                state=run.state_name or "Paused",
                waiting_since=since,
                waited=now - since,
            )
        )
    return sorted(stale, key=lambda s: s.waiting_since)
