"""`agentflows db upgrade` and `agentflows seed`: the project database and its demo data."""

from __future__ import annotations

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from agentflows.cli.common import app, console, db_app
from agentflows.settings import get_settings


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
        crm = progress.add_task("CRM rows (example exports)", total=None)
        counts = seed_crm(progress=lambda n, total: progress.update(crm, completed=n, total=total))
        market = progress.add_task("Marketplace rows", total=None)
        counts |= seed_marketplace(progress=lambda n, total: progress.update(market, completed=n, total=total))
    console.print("seeded: " + ", ".join(f"{v:,} {k}" for k, v in counts.items()))
