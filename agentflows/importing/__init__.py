"""Bring your own data: a team's CRM exports (CSV, or a SQL source) into the project database.

    mapping.py   the YAML mapping file: per table a file or query, their column names, value maps
    tables.py    what each of our tables accepts: one pydantic row model per table, its references
    reading.py   files and queries into raw rows, each with the line a user sees in a spreadsheet
    validate.py  raw rows -> valid rows and rejects (file, line, column, reason), references checked
    upsert.py    valid rows into the database by external id, in one transaction
    report.py    counts per table, the rejects CSV, the rich table and the markdown summary

`run_import` (in `run.py`) chains them; the CLI and the sync flow call it (the flow per table).
"""

from agentflows.importing.mapping import ImportMapping, MappingError, load_mapping
from agentflows.importing.report import ImportResult, Reject, TableCounts
from agentflows.importing.run import BadRowsError, WriteError, run_import

__all__ = [
    "BadRowsError",
    "ImportMapping",
    "ImportResult",
    "MappingError",
    "Reject",
    "TableCounts",
    "WriteError",
    "load_mapping",
    "run_import",
]
