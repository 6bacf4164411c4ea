"""What an import did or would do: counts per table, every rejected row, the rejects CSV, the tables.

The same `ImportResult` is printed by the CLI (a rich table), written by the sync flow (markdown
artifacts, through `agentflows.markdown` because the cells hold the user's own data) and returned
to tests.
"""

from __future__ import annotations

import csv
from pathlib import Path

from pydantic import BaseModel, Field

from agentflows.markdown import md_table


class Reject(BaseModel):
    """One problem with one row: where (file, line, their column) and why, in words a user can act on."""

    table: str
    location: str  # file name, or `query <table>`
    line: int | None = None  # header = line 1; None when the whole file is the problem
    column: str | None = None  # their column name
    reason: str

    def __str__(self) -> str:
        where = self.location + (f", line {self.line}" if self.line else "")
        return f"{where}" + (f", column {self.column!r}" if self.column else "") + f": {self.reason}"


class TableCounts(BaseModel):
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0  # rows, not problems (a row may have several)


class ImportResult(BaseModel):
    kind: str
    dry_run: bool
    written: bool = False
    tables: dict[str, TableCounts] = Field(default_factory=dict)
    rejects: list[Reject] = Field(default_factory=list)
    rejects_files: list[str] = Field(default_factory=list)

    def summary_rows(self) -> list[list[str]]:
        return [
            [name, str(c.added), str(c.updated), str(c.unchanged), str(c.rejected)] for name, c in self.tables.items()
        ]

    def summary_markdown(self) -> str:
        state = "dry run, nothing written" if self.dry_run else ("written" if self.written else "nothing written")
        head = f"**{self.kind} import** ({state})\n\n"
        return head + md_table(["table", "added", "updated", "unchanged", "rejected"], self.summary_rows())

    def rejects_markdown(self, limit: int = 200) -> str:
        rows = [[r.table, r.location, str(r.line or ""), r.column or "", r.reason] for r in self.rejects[:limit]]
        more = f"\n\n{len(self.rejects) - limit} more not shown." if len(self.rejects) > limit else ""
        return md_table(["table", "file", "line", "column", "reason"], rows) + more


def write_rejects(path: Path, columns: list[str], rows: list[tuple[int, dict[str, object], list[str]]]) -> Path:
    """The rejected rows as they were, plus `line` and `reason` columns, so they can be fixed and re-imported."""
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow([*columns, "line", "reason"])
        for line, values, reasons in rows:
            writer.writerow([*(values.get(c, "") for c in columns), line, "; ".join(reasons)])
    return path
