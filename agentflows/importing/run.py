"""One import, start to finish: read every mapped table, check it all, then write it all in one transaction.

Nothing is written while anything is unchecked: the files are read and every row is validated (types,
vocabulary, duplicates, references to the other files and to the database) first. With a bad row and
no `skip_bad`, `BadRowsError` carries the full report and the database is untouched; with `skip_bad`
the good rows are written and each file's rejected rows go to `<file>.rejects.csv` beside it. A dry run
does the writes inside the transaction (so its counts are exact) and rolls them back.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from agentflows.db.session import get_engine
from agentflows.importing.mapping import ImportMapping
from agentflows.importing.reading import Progress, RawTable, read_table
from agentflows.importing.report import ImportResult, TableCounts, write_rejects
from agentflows.importing.upsert import existing_keys, upsert_table
from agentflows.importing.validate import CheckedTable, check_all

WriteTable = Callable[[Session, CheckedTable, dict[str, dict[str, int]]], TableCounts]
"""How one table is written: `upsert_table`, or the sync flow's task around it."""


class WriteError(ValueError):
    """The database refused a write the checks did not foresee (e.g. two rows swapping emails); all rolled back."""


class BadRowsError(ValueError):
    """Rows (or a file's header) failed the checks and nothing was written; `result` has every problem."""

    def __init__(self, result: ImportResult) -> None:
        self.result = result
        shown = "\n".join(f"  {r}" for r in result.rejects[:20])
        more = f"\n  ... and {len(result.rejects) - 20} more" if len(result.rejects) > 20 else ""
        super().__init__(
            f"{len(result.rejects)} problem(s) found, nothing written:\n{shown}{more}\n"
            "Fix the rows (or the mapping) and import again, or pass --skip-bad to write the good rows "
            "and get the bad ones in a .rejects.csv file."
        )


def read_all(mapping: ImportMapping, base: Path | None = None) -> dict[str, RawTable]:
    """Every mapped table's raw rows; files are found under `base` (default: the mapping file's folder)."""
    folder = base or mapping.path.parent
    return {spec.name: read_table(tm, spec.name, folder, mapping.source) for spec, tm in mapping.ordered()}


def run_import(
    mapping: ImportMapping,
    *,
    base: Path | None = None,
    dry_run: bool = False,
    skip_bad: bool = False,
    url: str | None = None,
    progress: Progress | None = None,
    raws: dict[str, RawTable] | None = None,
    write_table: WriteTable = upsert_table,
) -> ImportResult:
    """Import `mapping` into the project database (or `url`); see the module docstring for the rules."""
    raws = raws if raws is not None else read_all(mapping, base)
    result = ImportResult(kind=mapping.kind, dry_run=dry_run)
    with Session(get_engine(url), expire_on_commit=False) as session, session.begin():
        checked, file_problems = check_all(mapping, raws, existing_keys(session, mapping), progress)
        result.rejects = file_problems + [r for c in checked.values() for rs in c.rejected.values() for r in rs]
        if file_problems or (result.rejects and not skip_bad and not dry_run):
            for name, table in checked.items():
                result.tables[name] = TableCounts(rejected=len(table.rejected))
            session.rollback()
            raise BadRowsError(result)
        ids: dict[str, dict[str, int]] = {}
        for name, table in checked.items():
            try:
                result.tables[name] = write_table(session, table, ids)
            except IntegrityError as exc:
                reason = str(exc.orig).splitlines()[0]
                raise WriteError(f"{name}: the database refused the rows ({reason}); nothing was written") from None
        if dry_run:
            session.rollback()
            return result
        if skip_bad:
            result.rejects_files = [str(p) for p in _write_rejects(checked, base or mapping.path.parent)]
    result.written = True
    return result


def _write_rejects(checked: dict[str, CheckedTable], folder: Path) -> list[Path]:
    written = []
    for name, table in checked.items():
        if not table.rejected:
            continue
        stem = Path(table.raw.location).stem if not table.raw.location.startswith("query ") else name
        by_line = {r.line: r for r in table.raw.rows}
        rows = [
            (line, by_line[line].values, [str(r.reason) for r in problems])
            for line, problems in sorted(table.rejected.items())
        ]
        written.append(write_rejects(folder / f"{stem}.rejects.csv", table.raw.columns, rows))
    return written
