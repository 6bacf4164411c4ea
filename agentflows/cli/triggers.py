"""`agentflows` commands for triggers: `up`, `webhook sign`, `deployments`."""

from __future__ import annotations

import asyncio
import shlex
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Literal
from uuid import uuid4

import typer
from rich.table import Table

from agentflows.cli.common import app, console, fail
from agentflows.settings import get_settings

webhook_app = typer.Typer(help="Webhooks: sign a delivery to try the receiver by hand.", no_args_is_help=True)
app.add_typer(webhook_app, name="webhook")

ROUTES = {
    "crm": "/webhooks/crm/prospects-selected",
    "shop": "/webhooks/shop/claim-opened",
    "landing": "/webhooks/landing/form-submitted",
}


@app.command()
def up(
    workers: Annotated[
        int | None,
        typer.Option(help="Start N process workers on the `agentflows` work pool instead of one runner"),
    ] = None,
    host: Annotated[
        str | None,
        typer.Option(help="Listen here (Prefect API/UI, webhooks), e.g. 0.0.0.0; beyond loopback needs Prefect auth"),
    ] = None,
    generate_auth: Annotated[
        bool, typer.Option(help="Beyond loopback: generate the Prefect auth string if none is set (kept 0600)")
    ] = False,
) -> None:
    """Start Prefect (UI), the deployments' runner (or workers), the webhook receiver and an SMTP sink."""
    from deployments.up import run_up

    code = run_up(console, workers=workers, host=host, generate_auth=generate_auth)
    if code:
        raise typer.Exit(code)


@webhook_app.command("sign")
def webhook_sign(
    source: Annotated[Literal["crm", "shop", "landing"], typer.Option(help="Who sends it: crm, shop or landing")],
    file: Annotated[Path, typer.Option(exists=True, dir_okay=False, help="The JSON payload to send")],
    wait: Annotated[float, typer.Option(help="landing only: seconds to wait for the plan (at most 30)")] = 0,
    delivery_id: Annotated[str, typer.Option("--id", help="webhook-id (default: a new one)")] = "",
) -> None:
    """Print a curl command that sends FILE as a signed delivery (valid for 5 minutes)."""
    from standardwebhooks import Webhook

    body = file.read_bytes()
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise fail(f"{file} is not UTF-8 text") from None
    secret = _signing_secret(source)
    delivery_id = delivery_id or f"msg_{uuid4().hex}"
    now = datetime.now(UTC)
    signature = Webhook(secret).sign(delivery_id, now, text)
    settings = get_settings()
    url = f"http://{settings.webhook_host}:{settings.webhook_port}{ROUTES[source]}"
    if wait and source == "landing":
        url += f"?wait={wait:g}"
    headers = {
        "content-type": "application/json",
        "webhook-id": delivery_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": signature,
    }
    parts = ["curl", "-sS", "-X", "POST", url, *(x for k, v in headers.items() for x in ("-H", f"{k}: {v}"))]
    parts += ["--data-binary", f"@{file.resolve()}"]
    print(shlex.join(parts))


def _signing_secret(source: str) -> str:
    """The secret the receiver would verify with: settings, then the Prefect block, then the dev file."""
    from deployments import webhook_secrets

    settings = get_settings()
    found = webhook_secrets.from_settings(settings, source)
    if not found and _prefect_answers():
        found = webhook_secrets.from_block(source)
    found = found or webhook_secrets.from_dev_file(settings, source)
    if not found:
        raise fail(
            f"no secret for {source!r}: set AGENTFLOWS_WEBHOOK_SECRET_{source.upper()}, create the Prefect Secret "
            f"block {webhook_secrets.block_name(source)!r}, or run `agentflows up` once (it generates dev secrets)"
        )
    return found[0]


def _prefect_answers() -> bool:
    from prefect.settings import PREFECT_API_URL

    from agentflows.prefect_server import healthy

    return bool(PREFECT_API_URL.value()) and healthy(PREFECT_API_URL.value(), timeout=1)


@app.command()
def deployments() -> None:
    """What is deployed on the Prefect server: schedules, concurrency, work pool, and what is missing."""
    if not _prefect_answers():
        raise fail("no Prefect server answers; start the stack with `agentflows up` or set PREFECT_API_URL")
    from prefect.client.orchestration import get_client

    from deployments.serve import load_specs

    async def read():  # type: ignore[no-untyped-def]
        async with get_client() as client:
            found = await client.read_deployments()
            flows = {f.id: f.name for f in await client.read_flows()}
            return found, flows

    found, flows = asyncio.run(read())
    table = Table()
    for column in ("deployment", "schedules", "concurrency", "work pool", "status"):
        table.add_column(column, overflow="fold")
    names = set()
    for d in sorted(found, key=lambda d: (flows.get(d.flow_id, ""), d.name)):
        name = f"{flows.get(d.flow_id, '?')}/{d.name}"
        names.add(name)
        schedules = ", ".join(
            f"{getattr(s.schedule, 'cron', None) or s.schedule} ({'active' if s.active else 'off'})"
            for s in d.schedules
        )
        limit = d.global_concurrency_limit.limit if d.global_concurrency_limit else None
        status = "paused" if d.paused else (d.status.value.lower() if d.status else "")
        table.add_row(name, schedules or "-", str(limit or "-"), d.work_pool_name or "served", status)
    console.print(table)
    missing = [s.full_name for s in load_specs() if s.full_name not in names]
    if missing:
        console.print(f"[yellow]declared in deployments/prefect.yaml but not deployed:[/] {', '.join(missing)}")
