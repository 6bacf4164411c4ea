"""`agentflows demo`: the whole product on one machine, offline, in one command.

Seeds the demo CRM, starts a Prefect server (UI on 127.0.0.1:4200) and an SMTP sink that keeps
each sent email as an `.eml` file, runs prospect outreach for three seeded prospects in this
process, prints where to approve them, and keeps running (so approvals resume here) until Ctrl-C,
when it stops everything it started.
"""

from __future__ import annotations

import asyncio
import threading
import time
from urllib.parse import urlparse

from rich.console import Console

from agentflows.prefect_server import PrefectServer, ServerStartError, healthy, start_prefect_server
from agentflows.settings import get_settings
from agentflows.smtp_sink import SmtpSink


def run_demo(prospect_ids: list[int] | None, console: Console) -> None:
    from prefect.settings import PREFECT_API_URL

    from agentflows.db.migrate import upgrade
    from agentflows.seed.crm import pick_demo_prospects, seed_crm

    settings = get_settings()
    upgrade()
    counts = seed_crm()
    console.print(
        f"[green]CRM ready[/] ({counts['accounts']} accounts, {counts['contacts']} contacts) at {settings.db_url}"
    )

    started: list[PrefectServer | SmtpSink] = []
    try:
        smtp = urlparse(settings.smtp_url)
        sink = SmtpSink(smtp.hostname or "127.0.0.1", smtp.port or 8025, settings.mail_dir).start()
        started.append(sink)
        console.print(f"[green]SMTP sink[/] on {sink.url}; sent mail lands in {settings.mail_dir}")

        api = PREFECT_API_URL.value()
        if healthy(api):
            console.print(f"[green]Prefect server[/] already running at {api}; using it")
        else:
            console.print("starting the Prefect server (about 10 s) ...")
            try:
                server = start_prefect_server(settings.prefect_home, settings.prefect_host, settings.prefect_port)
            except ServerStartError as exc:
                console.print(f"[red]{exc}[/]")
                return
            started.append(server)
            console.print(f"[green]Prefect UI[/] at {server.ui_url}")

        ids = prospect_ids or pick_demo_prospects()
        _run_in_background(ids, console)
        _wait_for_pauses(ids, console)
        console.print("\nWaiting for approvals; this process resumes the runs. [bold]Ctrl-C[/] stops everything.")
        while True:
            time.sleep(1)
    except KeyboardInterrupt:
        console.print("\nstopping ...")
    finally:
        for thing in reversed(started):
            thing.stop()


def _run_in_background(ids: list[int], console: Console) -> None:
    from flows.prospect_outreach import prospect_outreach

    def target() -> None:
        try:
            summary = asyncio.run(prospect_outreach(ids))
            for o in summary.outcomes:
                console.print(
                    f"[green]done[/] prospect {o.prospect_id}: {o.outcome} "
                    f"{'variant ' + str(o.variant) if o.variant else ''} {o.message_id or ''}"
                )
        except Exception as exc:  # shown to the person running the demo; the run's state is in Prefect
            console.print(f"[red]outreach run failed:[/] {exc}")

    threading.Thread(target=target, name="prospect-outreach", daemon=True).start()


def _wait_for_pauses(ids: list[int], console: Console, timeout: float = 300) -> None:
    from agentflows.approvals import pending_approvals
    from agentflows.prefect_env import prefect_ui_url

    deadline = time.monotonic() + timeout
    with console.status(f"drafting outreach for prospects {ids} ..."):
        while time.monotonic() < deadline:
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
