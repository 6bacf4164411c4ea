"""Files and queries into raw rows, each carrying the line number a user sees in a spreadsheet.

CSV is read with the standard library, strictly as UTF-8 (a byte-order mark is accepted): the reader
knows where each record starts, so a line number survives quoted cells with line breaks. Parquet and
Excel go through pandas, which needs `pyarrow` or `openpyxl` installed; their line is the row number
a spreadsheet shows (header = 1). A query's rows are numbered the same way (first row = 2).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.exc import SQLAlchemyError

from agentflows.importing.mapping import TableMapping

Progress = Callable[[str, int, int], None]
"""progress(table, rows done, rows total): the CLI's progress bar."""


class SourceError(ValueError):
    """A file or source cannot be read at all (missing, empty, wrong encoding, unreachable database)."""


@dataclass(frozen=True)
class RawRow:
    line: int  # header = line 1
    values: dict[str, Any]  # their column name -> cell


@dataclass(frozen=True)
class RawTable:
    table: str
    location: str  # the file name, or `query <table>`
    columns: list[str]
    rows: list[RawRow]


def _decode(path: Path) -> str:
    data = path.read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise SourceError(
            f"{path.name}: line {line}: not UTF-8 (byte 0x{data[exc.start]:02X} at byte offset {exc.start}); "
            "export the file as UTF-8 (Excel: Save As > CSV UTF-8) or convert it, e.g. "
            f"`iconv -f latin1 -t utf-8 {path.name}`"
        ) from None


def read_csv(path: Path, table: str) -> RawTable:
    text_ = _decode(path)
    if not text_.strip():
        raise SourceError(f"{path.name}: line 1: the file is empty (expected a header row and data rows)")
    reader = csv.reader(io.StringIO(text_, newline=""))
    header = [h.strip() for h in next(reader)]
    rows = []
    start = reader.line_num + 1
    for record in reader:
        if any(cell.strip() for cell in record):
            rows.append(RawRow(start, dict(zip(header, record, strict=False))))
        start = reader.line_num + 1
    return RawTable(table, path.name, header, rows)


def read_frame_file(path: Path, table: str) -> RawTable:
    import pandas as pd

    try:
        frame = pd.read_parquet(path) if path.suffix.lower() == ".parquet" else pd.read_excel(path, dtype=object)
    except ImportError as exc:
        raise SourceError(f"{path.name}: pandas needs an extra package to read it: {exc}") from None
    frame = frame.astype(object).where(frame.notna(), None)
    rows = [RawRow(i + 2, dict(zip(map(str, frame.columns), r, strict=True))) for i, r in enumerate(frame.values)]
    return RawTable(table, path.name, [str(c) for c in frame.columns], rows)


def read_file(path: Path, table: str) -> RawTable:
    """A CSV, Parquet or Excel file as raw rows; a missing file is a `SourceError`."""
    if not path.is_file():
        raise SourceError(f"{path.name}: file not found (looked for {path}); fix `{table}.file` in the mapping")
    if path.suffix.lower() in {".parquet", ".xlsx", ".xls"}:
        return read_frame_file(path, table)
    return read_csv(path, table)


def read_query(url: str, query: str, table: str) -> RawTable:
    """Rows of `query` on the SQL source at `url`; an unreachable source is a `SourceError` with its reason."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            result = conn.execute(text(query))
            columns = list(result.keys())
            rows = [RawRow(i + 2, dict(zip(columns, r, strict=True))) for i, r in enumerate(result)]
    except SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", None) or exc).splitlines()[0]
        raise SourceError(f"query {table}: the source database failed: {reason}") from None
    finally:
        engine.dispose()
    return RawTable(table, f"query {table}", columns, rows)


def read_table(mapping: TableMapping, table: str, base: Path, source: str | None) -> RawTable:
    """One mapped table's raw rows, from its file under `base` or its query on `source`."""
    if mapping.query:
        assert source is not None  # the mapping checked it
        return read_query(source, mapping.query, table)
    assert mapping.file is not None
    return read_file(base / mapping.file, table)
