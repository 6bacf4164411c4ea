"""`agentflows` commands for prospect outreach: list prospects, draft, and answer the approval forms.

agentflows prospects                          contacts you can draft for
agentflows run prospect-outreach --prospects  draft and wait here while reps approve
agentflows approvals | approve | reject       the paused approval runs, answered from the terminal
agentflows approvals --stale                  approvals and fraud reviews waiting too long
"""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer
from rich.table import Table

from agentflows.cli.common import app, console, fail, parse_ids, require_prefect_server, run_app


@app.command()
def prospects(limit: int = 20, offset: int = 0) -> None:
    """List contacts you can pass to `run prospect-outreach --prospects`."""
    from sqlalchemy import select

    from agentflows.db import session_scope
    from agentflows.db.crm import Account, Contact

    table = Table("id", "name", "role", "company", "employees", "email")
    with session_scope() as session:
        rows = session.execute(select(Contact, Account).join(Account).order_by(Contact.id).offset(offset).limit(limit))
        for c, a in rows:
            table.add_row(str(c.id), c.full_name, c.role, a.name, str(a.employees), c.email)
    console.print(table)


@run_app.command("prospect-outreach")
def run_prospect_outreach(
    prospects: Annotated[str, typer.Option(help="Comma-separated contact ids, e.g. 1,2,3")],
) -> None:
    """Draft outreach for the prospects and wait here while reps approve them (Ctrl-C stops waiting)."""
    ids = parse_ids(prospects)
    from agentflows.db.migrate import upgrade
    from tasks.crm import UnknownProspectsError, load_profiles_sync

    upgrade()
    try:
        load_profiles_sync(ids)
    except UnknownProspectsError as exc:
        raise fail(str(exc)) from None
    require_prefect_server()
    from flows.prospect_outreach import prospect_outreach

    console.print(f"drafting outreach for {len(ids)} prospects; approve with `agentflows approvals` / the UI")
    summary = asyncio.run(prospect_outreach(ids))
    _print_outcomes(summary.outcomes)


@app.command()
def approvals(
    stale: Annotated[
        bool,
        typer.Option(
            "--stale", help="Only approvals and fraud reviews waiting longer than AGENTFLOWS_APPROVAL_STALE_AFTER_S"
        ),
    ] = False,
) -> None:
    """Paused outreach runs waiting for a reviewer, with their drafts."""
    require_prefect_server()
    if stale:
        _print_stale()
        return
    from agentflows.approvals import pending_approvals
    from agentflows.prefect_env import flow_run_url

    pending = asyncio.run(pending_approvals())
    if not pending:
        console.print("nothing is waiting for approval")
        return
    for p in pending:
        console.rule(f"[bold]{p.contact}[/] at {p.company} ({p.writer})")
        console.print(f"run {p.flow_run_id}  {flow_run_url(p.flow_run_id)}")
        for i, v in enumerate(p.variants, start=1):
            console.print(f"[bold]variant {i}[/] ({v['angle']}): {v['subject']}")
            console.print(v["body"], style="dim")
        console.print(f"approve: agentflows approve {p.flow_run_id} --variant 1 --reviewer 'Your Name'")


@app.command()
def approve(
    run_id: Annotated[str, typer.Argument(help="The paused outreach run (see `agentflows approvals`)")],
    variant: Annotated[int, typer.Option(help="Which draft to send: 1, 2 or 3")],
    reviewer: Annotated[str, typer.Option(help="Your name, recorded with the decision")],
    subject: Annotated[str, typer.Option(help="Replace the draft's subject")] = "",
    body: Annotated[str, typer.Option(help="Replace the draft's body")] = "",
    note: Annotated[str, typer.Option(help="A note kept with the decision")] = "",
) -> None:
    """Approve one draft of a paused outreach run; it is sent once and logged in the CRM."""
    _answer(run_id, variant=variant, reviewer=reviewer, subject=subject, body=body, note=note, reject=False)
    console.print(f"approved variant {variant} of run {run_id}")


@app.command()
def reject(
    run_id: Annotated[str, typer.Argument(help="The paused outreach run")],
    reviewer: Annotated[str, typer.Option(help="Your name, recorded with the decision")],
    note: Annotated[str, typer.Option(help="Why; kept in the CRM for the next run")] = "",
) -> None:
    """Reject all drafts of a paused outreach run; nothing is sent and the outcome is logged."""
    _answer(run_id, variant=None, reviewer=reviewer, note=note, reject=True)
    console.print(f"rejected run {run_id}")


def _print_stale() -> None:
    from agentflows.prefect_env import flow_run_url
    from agentflows.settings import get_settings
    from agentflows.stale_approvals import describe, stale_waits

    threshold = describe(get_settings().approval_stale_after_s)
    waits = asyncio.run(stale_waits())
    if not waits:
        console.print(f"nothing has waited for a reviewer longer than {threshold}")
        return
    table = Table("waiting", "kind", "run", "state", "link", title=f"waiting longer than {threshold}")
    for w in waits:
        hours = w.waited.total_seconds() / 3600
        waited = f"{hours:.1f} h" if hours >= 1 else f"{w.waited.total_seconds() / 60:.0f} min"
        table.add_row(waited, w.kind, w.flow_run_name, w.state, flow_run_url(w.flow_run_id))
    console.print(table)
    console.print("answer: agentflows approve RUN_ID ... (approvals) / agentflows fraud decide ... (fraud reviews)")


def _answer(run_id: str, **kwargs: object) -> None:
    require_prefect_server()
    from agentflows.approvals import ApprovalError, approval_input, submit

    try:
        run_input = approval_input(run_id, **kwargs)  # type: ignore[arg-type]
        asyncio.run(submit(run_id, run_input))
    except ApprovalError as exc:
        raise fail(str(exc)) from None


def _print_outcomes(outcomes: list) -> None:  # type: ignore[type-arg]
    table = Table("prospect", "outcome", "writer", "variant", "reviewer", "message id")
    for o in outcomes:
        table.add_row(
            str(o.prospect_id),
            o.outcome,
            o.writer or "",
            str(o.variant or ""),
            o.reviewer or "",
            o.message_id or o.error or "",
        )
    console.print(table)
