"""`agentflows demo` (`make demo`): the whole product on one machine, offline, in one command.

Seeds the demo CRM, brings the stack up exactly as `agentflows up` does (Prefect server and UI on
127.0.0.1:4200, a runner serving every deployment, the webhook receiver, an SMTP sink that keeps
each sent email as an `.eml` file), then starts a `prospect-outreach/on-demand` run for three seeded
prospects and prints where to approve them. The runs live in the runner, so an approval from the UI
(or `agentflows approve`) resumes them and the email goes to the sink. Ctrl-C stops everything.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Annotated

import typer
from rich.console import Console

from agentflows.cli.common import app, console, parse_ids
from agentflows.settings import get_settings

OUTREACH_DEPLOYMENT = "prospect-outreach/on-demand"


@app.command()
def demo(
    prospects: Annotated[str, typer.Option(help="Contact ids to draft (default: three seeded prospects)")] = "",
) -> None:
    """Seed, start Prefect (UI) and an SMTP sink, draft three prospects, then wait for approvals."""
    run_demo(parse_ids(prospects) if prospects else None, console)


def run_demo(prospect_ids: list[int] | None, console: Console) -> None:
    from agentflows.db.migrate import upgrade
    from agentflows.seed.crm import seed_crm
    from deployments.up import Stack, run_up
    from tasks.crm import pick_demo_prospects

    settings = get_settings()
    upgrade()
    counts = seed_crm()
    console.print(
        f"[green]CRM ready[/] ({counts['accounts']} accounts, {counts['contacts']} contacts) at {settings.db_url}"
    )
    ids = prospect_ids or pick_demo_prospects()

    def start_outreach(stack: Stack) -> None:
        from prefect.deployments import run_deployment

        from agentflows.prefect_env import prefect_ui_url

        run = run_deployment(OUTREACH_DEPLOYMENT, parameters={"prospect_ids": ids}, timeout=0)
        console.print(f"\n[green]outreach started[/] for prospects {ids}: {prefect_ui_url()}/runs/flow-run/{run.id}")
        _wait_for_pauses(ids, console, stack.check_children)
        console.print(
            f"\nWaiting for approvals; the runner resumes the runs, sent mail lands in {settings.mail_dir}. "
            "[bold]Ctrl-C[/] stops everything."
        )

    code = run_up(console, on_ready=start_outreach)
    if code:
        raise typer.Exit(code)


def _wait_for_pauses(ids: list[int], console: Console, check: Callable[[], None], timeout: float = 300) -> None:
    from agentflows.approvals import pending_approvals
    from agentflows.prefect_env import prefect_ui_url

    deadline = time.monotonic() + timeout
    pending = []
    with console.status(f"drafting outreach for prospects {ids} ..."):
        while time.monotonic() < deadline:
            check()  # a runner that died is reported now, not after the timeout
            pending = [p for p in asyncio.run(pending_approvals()) if p.contact_id in ids]
            if len({p.contact_id for p in pending}) == len(ids):
                break
            time.sleep(1)
    for p in pending:
        console.print(f"\n[bold]{p.contact}[/] at {p.company} -> writer {p.writer}", highlight=False)
        console.print(
            f"  review and approve: {prefect_ui_url()}/runs/flow-run/{p.flow_run_id}", soft_wrap=True, highlight=False
        )
        console.print(
            f"  or: agentflows approve {p.flow_run_id} --variant 1 --reviewer 'Your Name'",
            soft_wrap=True,
            highlight=False,
        )
