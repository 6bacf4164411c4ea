"""The sync flow's steps: read one table from its source, write one checked table into the open transaction.

Reading is a task per table so a slow or unreachable source shows on the table it belongs to. Writing
is a task per table too, but every write runs in the one session and transaction the flow holds
(`agentflows.importing.run_import`), so a failure in any table rolls back all of them. The session and
rows are handed over with `quote` (Prefect does not walk into them) and nothing is cached or persisted:
a retried sync reads its source again.
"""

from __future__ import annotations

from pathlib import Path

from prefect import task
from prefect.cache_policies import NONE
from sqlalchemy.orm import Session

from agentflows.importing import ImportMapping, TableCounts
from agentflows.importing.reading import RawTable, read_table
from agentflows.importing.upsert import upsert_table
from agentflows.importing.validate import CheckedTable


@task(name="read-table", task_run_name="read-{table}", cache_policy=NONE, persist_result=False)
def read_source_table(mapping: ImportMapping, table: str, folder: str | None = None) -> RawTable:
    """One mapped table's rows from its file (under `folder`, default the mapping's) or its SQL query."""
    base = Path(folder) if folder else mapping.path.parent
    return read_table(mapping.tables[table], table, base, mapping.source)


@task(name="write-table", task_run_name="write-{table}", cache_policy=NONE, persist_result=False)
def write_checked_table(
    table: str, session: Session, checked: CheckedTable, ids: dict[str, dict[str, int]]
) -> TableCounts:
    """Upsert one table's valid rows by external id inside the flow's transaction (committed by the flow)."""
    return upsert_table(session, checked, ids)
