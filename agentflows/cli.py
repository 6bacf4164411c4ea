"""The `agentflows` command line.

Prefect reads its settings at import, so this module configures the Prefect environment before
anything imports Prefect, and imports flows lazily inside the commands that need them.
"""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from agentflows.prefect_env import configure_prefect_env
from agentflows.settings import get_settings

app = typer.Typer(
    help="Agentic workflows as Prefect flows: outreach, fraud checks, landing plans.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
run_app = typer.Typer(help="Run a flow in this process.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
app.add_typer(run_app, name="run")
app.add_typer(db_app, name="db")
console = Console()
err = Console(stderr=True)


def fail(message: str, code: int = 2) -> typer.Exit:
    err.print(f"[bold red]error:[/] {message}")
    return typer.Exit(code)


def parse_ids(text: str) -> list[int]:
    try:
        ids = [int(part) for part in text.replace(" ", "").split(",") if part]
    except ValueError:
        raise fail(f"--prospects takes comma-separated contact ids like 1,2,3; got {text!r}") from None
    if not ids:
        raise fail("--prospects is empty: pass contact ids like 1,2,3")
    return ids


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Bring the project database to the newest schema (Alembic)."""
    from agentflows.db.migrate import upgrade

    upgrade()
    console.print(f"database at newest schema: {get_settings().db_url}")


@app.command()
def seed() -> None:
    """Create the schema and the reproducible demo CRM (safe to run again: it adds nothing twice)."""
    from agentflows.db.migrate import upgrade
    from agentflows.seed.crm import seed_crm
    from agentflows.seed.marketplace import seed_marketplace

    upgrade()
    with Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=console
    ) as progress:
        crm = progress.add_task("CRM accounts", total=None)
        counts = seed_crm(progress=lambda n, total: progress.update(crm, completed=n, total=total))
        market = progress.add_task("Marketplace rows", total=None)
        counts |= seed_marketplace(progress=lambda n, total: progress.update(market, completed=n, total=total))
    console.print("seeded: " + ", ".join(f"{v:,} {k}" for k, v in counts.items()))


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
    _require_prefect_server()
    from flows.prospect_outreach import prospect_outreach

    console.print(f"drafting outreach for {len(ids)} prospects; approve with `agentflows approvals` / the UI")
    summary = asyncio.run(prospect_outreach(ids))
    _print_outcomes(summary.outcomes)


@app.command()
def approvals() -> None:
    """Paused outreach runs waiting for a reviewer, with their drafts."""
    _require_prefect_server()
    from agentflows.approvals import pending_approvals
    from agentflows.prefect_env import prefect_ui_url

    pending = asyncio.run(pending_approvals())
    if not pending:
        console.print("nothing is waiting for approval")
        return
    for p in pending:
        console.rule(f"[bold]{p.contact}[/] at {p.company} ({p.writer})")
        console.print(f"run {p.flow_run_id}  {prefect_ui_url()}/runs/flow-run/{p.flow_run_id}")
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


def _answer(run_id: str, **kwargs: object) -> None:
    _require_prefect_server()
    from agentflows.approvals import ApprovalError, approval_input, submit

    try:
        run_input = approval_input(run_id, **kwargs)  # type: ignore[arg-type]
        asyncio.run(submit(run_id, run_input))
    except ApprovalError as exc:
        raise fail(str(exc)) from None


def _require_prefect_server() -> None:
    from prefect.settings import PREFECT_API_URL

    from agentflows.prefect_server import healthy

    api = PREFECT_API_URL.value()
    if not api or not healthy(api):
        raise fail(
            f"no Prefect server answers at {api}. Start one with `agentflows demo` or `agentflows up`, "
            "or point PREFECT_API_URL at yours."
        )


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


@app.command()
def usage(
    since: Annotated[str, typer.Option(help="How far back: 30m, 24h, 7d")] = "7d",
    by: Annotated[str, typer.Option(help="Group by `flow` or `agent`")] = "flow",
) -> None:
    """Model requests, tokens and estimated cost, by flow (or agent) and model."""
    import re
    from datetime import UTC, datetime, timedelta

    from agentflows.db.migrate import upgrade
    from tasks.usage import usage_rows

    match = re.fullmatch(r"(\d+)([mhd])", since.strip())
    if not match or by not in {"flow", "agent"}:
        raise fail("--since takes a number and a unit (30m, 24h, 7d); --by takes flow or agent")
    amount, unit = int(match[1]), match[2]
    unit_name = {"m": "minutes", "h": "hours", "d": "days"}[unit]
    start = datetime.now(UTC) - timedelta(**{unit_name: amount})
    upgrade()
    key = "flow_name" if by == "flow" else "agent"
    rows = usage_rows(since=start, by=key)
    table = Table(by, "model", "requests", "input tokens", "output tokens", "est. cost (USD)")
    for r in rows:
        cost = "unknown price" if r["cost_usd"] is None else f"{r['cost_usd']:.4f}"
        if r["cost_usd"] is not None and r["priced_requests"] < r["requests"]:
            cost += f" (+{r['requests'] - r['priced_requests']} unpriced)"
        tokens = f"{r['input_tokens']:,}", f"{r['output_tokens']:,}"
        table.add_row(r[key], r["model"], f"{r['requests']:,}", *tokens, cost)
    console.print(table if rows else f"no model requests since {start:%Y-%m-%d %H:%M} UTC")


@app.command()
def demo(
    prospects: Annotated[str, typer.Option(help="Contact ids to draft (default: three seeded prospects)")] = "",
) -> None:
    """Seed, start Prefect (UI) and an SMTP sink, draft three prospects, then wait for approvals."""
    from agentflows.demo import run_demo

    run_demo(parse_ids(prospects) if prospects else None, console)


# Commands of the other workflows register themselves on `app` / `run_app` when imported.
from agentflows import cli_fraud, cli_memory, cli_outbox, cli_triggers  # noqa: E402, F401


def main() -> None:
    configure_prefect_env()
    app()


if __name__ == "__main__":
    main()
