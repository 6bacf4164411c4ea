"""`agentflows memory`: see exactly what the agents will be given from past runs, and prune it."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from agentflows.cli.common import app, console, fail

memory_app = typer.Typer(help="What the agents remember from earlier runs, and forgetting it.", no_args_is_help=True)
app.add_typer(memory_app, name="memory")


@memory_app.command("show")
def show(account: Annotated[int, typer.Option(help="CRM account id")]) -> None:
    """The prior-outreach section every brief for this account gets, and the angles writers must avoid."""
    from agentflows.db.migrate import upgrade
    from tasks.memory import angles_to_avoid, prior_outreach_sync

    upgrade()
    prior = prior_outreach_sync([account]).get(account, [])
    if not prior:
        console.print(f"account {account}: no outreach in the memory window")
        return
    table = Table("activity", "when", "contact", "outcome", "angles", "subject", "note")
    for o in prior:
        table.add_row(
            o.ref.rsplit(":", 1)[1], f"{o.when:%Y-%m-%d}", o.contact, o.outcome, ", ".join(o.angles), o.subject, o.note
        )
    console.print(table)
    console.print(f"writers will not reuse: {', '.join(angles_to_avoid(prior)) or '(nothing)'}")


@memory_app.command("examples")
def examples(
    writer: Annotated[str, typer.Option(help="A writer type: the name of a writers/<type>.md file in the workspace")],
    context: Annotated[str, typer.Option(help="Rank for this text (e.g. a brief); empty: newest first")] = "",
) -> None:
    """Reviewer examples for a writer; with --context, the ones a brief like that would get."""
    from agentflows.db.migrate import upgrade
    from tasks.memory import examples_sync, select_examples
    from tasks.workspace import active_workspace

    upgrade()
    active = active_workspace().writers
    if writer not in active:
        raise fail(f"unknown writer {writer!r}; the workspace's writers are: {', '.join(active)}")
    found = examples_sync(writer)
    chosen = select_examples(found, context) if context else found
    table = Table("activity", "kind", "reviewer", "drafted", "final / note")
    for e in chosen:
        after = e.final_body if e.kind == "edited" else e.note
        table.add_row(
            e.ref.rsplit(":", 1)[1], e.kind, e.reviewer, e.drafted_body[:200] or e.drafted_subject, after[:300]
        )
    console.print(table if chosen else f"no reviewer examples for {writer}")


@memory_app.command("forget")
def forget(activity: Annotated[int, typer.Option(help="The outreach activity id (see `memory show`)")]) -> None:
    """Keep an outreach in the CRM but out of every agent's memory from the next run on."""
    from agentflows.db.migrate import upgrade
    from tasks.memory import forget_sync

    upgrade()
    if not forget_sync(activity):
        raise fail(f"activity {activity} is not an outreach outcome; list them with `agentflows memory show`")
    console.print(f"activity {activity} is forgotten by the agents (still in the CRM)")
