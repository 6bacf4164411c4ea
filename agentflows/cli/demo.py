"""`agentflows demo` (`make demo`): the whole product on one machine, offline, in one command.

Seeds the demo CRM, brings the stack up exactly as `agentflows up` does (Prefect server and UI on
127.0.0.1:4200, a runner serving every deployment, the webhook receiver, an SMTP sink that keeps
each sent email as an `.eml` file), then starts a `prospect-outreach/on-demand` run for three seeded
prospects and prints where to approve them. The runs live in the runner, so an approval from the UI
(or `agentflows approve`) resumes them and the email goes to the sink. Ctrl-C stops everything.

Web research works offline too: every account's `.example` domain is served by a small generated
site on loopback (`agentflows.demo_sites`), mapped through `AGENTFLOWS_WEB_HOSTS` for this stack
only, so each brief carries `web:` facts. Running the demo again on the same data directory reuses
the prospects' open approvals (and prints their links) instead of drafting them a second time.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from agentflows.cli.common import app, console, parse_ids
from agentflows.settings import get_settings
from agents.outreach.brief import Fact, ProspectBrief

if TYPE_CHECKING:
    from agentflows.approvals import PendingApproval

OUTREACH_DEPLOYMENT = "prospect-outreach/on-demand"


@app.command()
def demo(
    prospects: Annotated[str, typer.Option(help="Contact ids to draft (default: three seeded prospects)")] = "",
) -> None:
    """Seed, start Prefect (UI) and an SMTP sink, draft three prospects, then wait for approvals."""
    run_demo(parse_ids(prospects) if prospects else None, console)


def run_demo(prospect_ids: list[int] | None, console: Console) -> None:
    from agentflows.db.migrate import upgrade
    from agentflows.demo_sites import DemoSiteServer, build_sites
    from agentflows.seed.crm import seed_crm
    from deployments.up import Stack, run_up
    from tasks.crm import pick_demo_prospects
    from tasks.generation import seller
    from tasks.workspace import active_workspace

    settings = get_settings()
    upgrade()
    counts = seed_crm()
    console.print(
        f"[green]CRM ready[/] ({counts['accounts']} accounts, {counts['contacts']} contacts) at {settings.db_url}"
    )
    ids = prospect_ids or pick_demo_prospects()
    sites = DemoSiteServer(build_sites(seller(active_workspace())[0])).start()
    hosts = sites.hosts_mapping() | settings.web_hosts  # a mapping of the user's own wins
    os.environ["AGENTFLOWS_WEB_HOSTS"] = json.dumps(hosts)  # for the stack's children (runner, flow runs)
    console.print(
        f"[green]demo websites[/] for {len(sites.sites)} accounts on http://{sites.address} "
        f"(AGENTFLOWS_WEB_HOSTS={json.dumps(hosts)} for this demo's stack only)",
        soft_wrap=True,
        highlight=False,
    )

    def start_outreach(stack: Stack) -> None:
        from prefect.deployments import run_deployment

        from agentflows.prefect_env import flow_run_url

        reused = asyncio.run(open_approvals(ids))
        to_draft = [i for i in ids if i not in reused]
        if reused:
            console.print(
                f"\n[green]reusing open approvals[/] of prospects {sorted(reused)} from an earlier demo "
                "(not drafting them again; answer or reject them to draft anew)",
                highlight=False,
            )
        fresh: list[PendingApproval] = []
        if to_draft:
            run = run_deployment(OUTREACH_DEPLOYMENT, parameters={"prospect_ids": to_draft}, timeout=0)
            console.print(f"\n[green]outreach started[/] for prospects {to_draft}: {flow_run_url(run.id)}")
            fresh = _wait_for_pauses(to_draft, console, stack.check_children)
        approvals = [p for i in ids for p in reused.get(i, [])] + fresh
        _print_approvals(approvals, {p.flow_run_id for ps in reused.values() for p in ps}, console)
        _print_web_research(approvals, console)
        console.print(
            f"\nWaiting for approvals; the runner resumes the runs, sent mail lands in {settings.mail_dir}. "
            "[bold]Ctrl-C[/] stops everything."
        )

    try:
        code = run_up(console, on_ready=start_outreach)
    finally:
        sites.stop()
    if code:
        raise typer.Exit(code)


async def open_approvals(ids: list[int]) -> dict[int, list[PendingApproval]]:
    """The open (paused) approvals of these prospects, by contact id, oldest first: what a demo reuses."""
    from agentflows.approvals import pending_approvals

    by_contact: dict[int, list[PendingApproval]] = {}
    for p in await pending_approvals():
        if p.contact_id in ids:
            by_contact.setdefault(p.contact_id, []).append(p)
    return by_contact


def _wait_for_pauses(
    ids: list[int], console: Console, check: Callable[[], None], timeout: float = 300
) -> list[PendingApproval]:
    deadline = time.monotonic() + timeout
    pending: list[PendingApproval] = []
    with console.status(f"drafting outreach for prospects {ids} ..."):
        while time.monotonic() < deadline:
            check()  # a runner that died is reported now, not after the timeout
            pending = [p for ps in asyncio.run(open_approvals(ids)).values() for p in ps]
            if len({p.contact_id for p in pending}) == len(ids):
                break
            time.sleep(1)
    return pending


def _print_approvals(approvals: list[PendingApproval], reused: set[str], console: Console) -> None:
    from agentflows.prefect_env import flow_run_url

    for p in approvals:
        tag = " [dim](reused: drafted by an earlier demo)[/]" if p.flow_run_id in reused else ""
        console.print(f"\n[bold]{p.contact}[/] at {p.company} -> writer {p.writer}{tag}", highlight=False)
        console.print(f"  review and approve: {flow_run_url(p.flow_run_id)}", soft_wrap=True, highlight=False)
        console.print(
            f"  or: agentflows approve {p.flow_run_id} --variant 1 --reviewer 'Your Name'",
            soft_wrap=True,
            highlight=False,
        )


def web_facts(flow_run_id: str) -> tuple[str, list[Fact]]:
    """The brief's `web_source` and its facts with `web:` sources, for the drafts under review in this run."""
    from sqlalchemy import select

    from agentflows.db import session_scope
    from agentflows.db.crm import OutreachDraft

    with session_scope() as session:
        brief = session.scalar(select(OutreachDraft.brief).where(OutreachDraft.flow_run_id == flow_run_id))
    if brief is None:
        return "unknown", []
    parsed = ProspectBrief.model_validate(brief)
    return parsed.web_source, [f for f in parsed.facts if f.source.startswith("web:")]


def _print_web_research(approvals: list[PendingApproval], console: Console) -> None:
    if not approvals:
        return
    console.print("\n[bold]Web research[/] (the demo's local sites, read through the same guarded fetch):")
    with_web = 0
    for p in approvals:
        source, facts = web_facts(p.flow_run_id)
        with_web += bool(facts)
        sources = sorted({f.source for f in facts})
        line = f"{len(facts)} website facts ({', '.join(sources)})" if facts else f"no website facts (web {source})"
        console.print(f"  {p.company}: {line}", soft_wrap=True, highlight=False)
        if facts:
            console.print(f"    e.g. {facts[0].id}: {facts[0].text}", soft_wrap=True, highlight=False)
    console.print(f"  {with_web} of {len(approvals)} briefs carry website facts with web: sources", highlight=False)
