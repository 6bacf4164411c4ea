"""CRM and marketplace sync: a team's own data (a SQL database or a folder of exports) into the project
database, on a schedule.

Run them as the `crm-sync/hourly` and `marketplace-sync/hourly` deployments (their schedules are off until
switched on in the UI or in prefect.yaml), or `agentflows run crm-sync --mapping sync/crm.yaml`.
The mapping is the import's format; for a database, `source:` is any SQLAlchemy URL and each table
has a `query:` instead of a `file:`.

Each table is read by its own task, then every row of every table is checked (types, vocabulary,
duplicates, references) before the first write; the writes, one task per table, share one transaction,
so a failed sync changes nothing. A source that cannot be reached fails its read task, and the run,
with the driver's reason. Bad rows fail the run (nothing written) unless `skip_bad`; either way the
rejected rows are an artifact, next to the summary of rows added, updated, unchanged and rejected.
"""

from __future__ import annotations

from pathlib import Path

from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact
from prefect.utilities.annotations import quote
from sqlalchemy.orm import Session

from agentflows.importing import BadRowsError, ImportResult, TableCounts, load_mapping, run_import
from agentflows.importing.validate import CheckedTable
from agentflows.settings import get_settings
from tasks.sync import read_source_table, write_checked_table


def _write(session: Session, checked: CheckedTable, ids: dict[str, dict[str, int]]) -> TableCounts:
    return write_checked_table(checked.spec.name, quote(session), quote(checked), quote(ids))


def _publish(result: ImportResult, kind: str) -> None:
    create_markdown_artifact(
        key=f"{kind}-sync-summary", markdown=result.summary_markdown(), description=f"{kind} sync: rows per table"
    )
    if result.rejects:
        create_markdown_artifact(
            key=f"{kind}-sync-rejects",
            markdown=f"**{len(result.rejects)} rejected row problem(s)**\n\n" + result.rejects_markdown(),
            description=f"{kind} sync: rows not written, with file/query, line, column and reason",
        )


def sync(kind: str, mapping: str | None, folder: str | None, skip_bad: bool) -> ImportResult:
    path = Path(mapping) if mapping else get_settings().data_dir / "sync" / f"{kind}.yaml"
    loaded = load_mapping(path, kind)
    raws = {spec.name: read_source_table(loaded, spec.name, folder) for spec, _ in loaded.ordered()}
    try:
        result = run_import(
            loaded, base=Path(folder) if folder else None, skip_bad=skip_bad, raws=raws, write_table=_write
        )
    except BadRowsError as exc:
        _publish(exc.result, kind)
        raise
    _publish(result, kind)
    get_run_logger().info(
        "%s sync: %s", kind, ", ".join(f"{n} +{c.added} ~{c.updated} !{c.rejected}" for n, c in result.tables.items())
    )
    return result


@flow(name="crm-sync", log_prints=False)
def crm_sync(mapping: str | None = None, folder: str | None = None, skip_bad: bool = False) -> ImportResult:
    """Upsert the CRM from `mapping` (default `<data_dir>/sync/crm.yaml`); `folder` overrides where its files are."""
    return sync("crm", mapping, folder, skip_bad)


@flow(name="marketplace-sync", log_prints=False)
def marketplace_sync(mapping: str | None = None, folder: str | None = None, skip_bad: bool = False) -> ImportResult:
    """Upsert the marketplace from `mapping` (default `<data_dir>/sync/marketplace.yaml`)."""
    return sync("marketplace", mapping, folder, skip_bad)
