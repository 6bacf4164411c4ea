"""`agentflows import crm|marketplace`: a team's own exports into the project database, checked before written."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

if TYPE_CHECKING:
    from agentflows.importing import ImportResult, Reject

from agentflows.cli.common import app, console, err, fail, require_prefect_server, run_app

import_app = typer.Typer(help="Import your own data (CSV exports + a YAML mapping).", no_args_is_help=True)
app.add_typer(import_app, name="import")

MAPPING = typer.Option(..., "--mapping", "-m", help="YAML mapping file: per table a file, columns, values.")
FOLDER = typer.Option(None, "--folder", help="Where the files are (default: the mapping file's folder).")
DRY_RUN = typer.Option(False, "--dry-run", help="Check everything and show what would change; write nothing.")
SKIP_BAD = typer.Option(
    False, "--skip-bad", help="Write the good rows; put the bad ones in <file>.rejects.csv next to the data."
)


def _show(result: ImportResult) -> None:
    title = "would change (dry run, nothing written)" if result.dry_run else "import"
    table = Table(title=f"{result.kind} {title}")
    for column in ("table", "added", "updated", "unchanged", "rejected"):
        table.add_column(column, justify="left" if column == "table" else "right")
    for row in result.summary_rows():
        table.add_row(*row)
    console.print(table)


def _show_rejects(rejects: list[Reject], limit: int = 50) -> None:
    """One line per problem (`file, line N, column 'X': reason`), unwrapped so it can be copied or grepped."""
    for r in rejects[:limit]:
        err.print(str(r), soft_wrap=True, highlight=False, markup=False)
    if len(rejects) > limit:
        err.print(f"... and {len(rejects) - limit} more (all of them: --skip-bad writes them to .rejects.csv files)")


def run_import_command(kind: str, mapping: Path, folder: Path | None, dry_run: bool, skip_bad: bool) -> None:
    from agentflows.db.migrate import upgrade
    from agentflows.importing import BadRowsError, MappingError, WriteError, load_mapping, run_import
    from agentflows.importing.reading import SourceError

    try:
        loaded = load_mapping(mapping, kind)
    except MappingError as exc:
        raise fail(str(exc)) from None
    upgrade()
    with Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=console
    ) as progress:
        bars: dict[str, int] = {}

        def on_progress(table: str, n: int, total: int) -> None:
            if table not in bars:
                bars[table] = progress.add_task(f"checking {table}", total=total)
            progress.update(bars[table], completed=n, total=total)

        try:
            result = run_import(loaded, base=folder, dry_run=dry_run, skip_bad=skip_bad, progress=on_progress)
        except (SourceError, WriteError) as exc:
            raise fail(f"{exc}\nNothing was written.") from None
        except BadRowsError as exc:
            progress.stop()
            _show_rejects(exc.result.rejects)
            raise fail(
                f"{len(exc.result.rejects)} problem(s), nothing written. Fix them and import again, or pass "
                "--skip-bad to write the good rows and get the bad ones in a .rejects.csv file.",
                code=1,
            ) from None
    _show(result)
    _show_rejects(result.rejects)
    for path in result.rejects_files:
        console.print(f"rejected rows written to {path} (their cells, the line and a reason column)")
    if result.dry_run and result.rejects and not skip_bad:
        raise typer.Exit(1)  # the real import would refuse these files


@import_app.command("crm")
def import_crm(
    mapping: Path = MAPPING, folder: Path | None = FOLDER, dry_run: bool = DRY_RUN, skip_bad: bool = SKIP_BAD
) -> None:
    """Accounts, contacts, deals and activities from CSV exports, upserted by their external ids."""
    run_import_command("crm", mapping, folder, dry_run, skip_bad)


@import_app.command("marketplace")
def import_marketplace(
    mapping: Path = MAPPING, folder: Path | None = FOLDER, dry_run: bool = DRY_RUN, skip_bad: bool = SKIP_BAD
) -> None:
    """Customers, orders, returns, tracking, payment incidents, claims and known fraud addresses."""
    run_import_command("marketplace", mapping, folder, dry_run, skip_bad)


def _run_sync(kind: str, mapping: Path | None, folder: Path | None, skip_bad: bool) -> None:
    from agentflows.db.migrate import upgrade
    from agentflows.importing import BadRowsError, MappingError, WriteError
    from agentflows.importing.reading import SourceError

    upgrade()
    require_prefect_server()
    from flows.data_sync import crm_sync, marketplace_sync

    flow = crm_sync if kind == "crm" else marketplace_sync
    try:
        result = flow(
            mapping=str(mapping) if mapping else None, folder=str(folder) if folder else None, skip_bad=skip_bad
        )
    except (MappingError, SourceError, WriteError) as exc:
        raise fail(f"{exc}\nNothing was written.") from None
    except BadRowsError as exc:
        _show_rejects(exc.result.rejects)
        raise fail(
            f"{len(exc.result.rejects)} problem(s), nothing written (the run's artifacts list them).", 1
        ) from None
    _show(result)


SYNC_MAPPING = typer.Option(None, "--mapping", "-m", help="Mapping file (default: <data_dir>/sync/<kind>.yaml).")


@run_app.command("crm-sync")
def run_crm_sync(mapping: Path | None = SYNC_MAPPING, folder: Path | None = FOLDER, skip_bad: bool = SKIP_BAD) -> None:
    """Run the crm-sync flow in this process (a Prefect flow run with its artifacts)."""
    _run_sync("crm", mapping, folder, skip_bad)


@run_app.command("marketplace-sync")
def run_marketplace_sync(
    mapping: Path | None = SYNC_MAPPING, folder: Path | None = FOLDER, skip_bad: bool = SKIP_BAD
) -> None:
    """Run the marketplace-sync flow in this process (a Prefect flow run with its artifacts)."""
    _run_sync("marketplace", mapping, folder, skip_bad)
