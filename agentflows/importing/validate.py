"""Raw rows -> valid rows and rejects, before anything is written.

Checked per row: types and vocabulary (the table's pydantic model), a duplicate external id or a
duplicate second key (domain, email) within the file, a clash of that key with another row already in
the database, and references: a contact's account must be in the accounts file (and not rejected
there) or already in the database.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from agentflows.importing.mapping import ImportMapping, TableMapping
from agentflows.importing.reading import Progress, RawTable
from agentflows.importing.report import Reject
from agentflows.importing.tables import ImportRow, TableSpec


@dataclass
class ExistingKeys:
    """What the database already holds that a row may refer to or clash with."""

    ids: dict[str, set[str]] = field(default_factory=dict)  # table -> external ids
    unique: dict[str, dict[str, str | None]] = field(default_factory=dict)  # table -> second key -> external id


@dataclass
class CheckedTable:
    spec: TableSpec
    raw: RawTable
    external_column: str  # their column holding the external id
    valid: list[tuple[int, ImportRow]] = field(default_factory=list)  # (line, row)
    rejected: dict[int, list[Reject]] = field(default_factory=dict)  # line -> problems

    def reject(self, line: int, column: str | None, reason: str) -> None:
        self.rejected.setdefault(line, []).append(
            Reject(table=self.spec.name, location=self.raw.location, line=line, column=column, reason=reason)
        )


def _missing_columns(spec: TableSpec, mapping: TableMapping, raw: RawTable) -> list[Reject]:
    have = set(raw.columns)
    return [
        Reject(
            table=spec.name,
            location=raw.location,
            line=1,
            column=theirs,
            reason=f"column {theirs!r} (mapped to {ours}) is not in the file; its columns are: "
            + ", ".join(raw.columns),
        )
        for ours, theirs in mapping.columns.items()
        if theirs not in have
    ]


def check_table(
    spec: TableSpec,
    mapping: TableMapping,
    raw: RawTable,
    progress: Progress | None = None,
) -> CheckedTable | list[Reject]:
    """Each row through the table's model; a header problem rejects the whole file (returned as a list)."""
    if missing := _missing_columns(spec, mapping, raw):
        return missing
    checked = CheckedTable(spec, raw, mapping.columns["external_id"])
    context = {"values": mapping.values, "table": spec.name}
    seen: dict[str, int] = {}
    seen_unique: dict[str, int] = {}
    total = len(raw.rows)
    for n, raw_row in enumerate(raw.rows, start=1):
        data: dict[str, Any] = {ours: raw_row.values.get(theirs) for ours, theirs in mapping.columns.items()}
        try:
            row = spec.row.model_validate(data, context=context)
        except ValidationError as exc:
            for error in exc.errors():
                ours = str(error["loc"][0]) if error["loc"] else None
                reason = error["msg"].removeprefix("Value error, ")
                if error["type"] == "missing":
                    reason = "empty, but required"
                checked.reject(raw_row.line, mapping.columns.get(ours or "", ours), reason)
        else:
            if row.external_id in seen:
                checked.reject(
                    raw_row.line,
                    mapping.columns["external_id"],
                    f"duplicate external id {row.external_id!r}: already on line {seen[row.external_id]}",
                )
            elif spec.unique and (key := getattr(row, spec.unique)) in seen_unique:
                checked.reject(
                    raw_row.line,
                    mapping.columns[spec.unique],
                    f"duplicate {spec.unique} {key!r}: already on line {seen_unique[key]}",
                )
            else:
                seen[row.external_id] = raw_row.line
                if spec.unique:
                    seen_unique[getattr(row, spec.unique)] = raw_row.line
                checked.valid.append((raw_row.line, row))
        if progress and (n % 500 == 0 or n == total):
            progress(spec.name, n, total)
    return checked


def check_against(
    checked: CheckedTable, mapping: TableMapping, done: dict[str, CheckedTable], db: ExistingKeys
) -> None:
    """References to earlier tables and clashes with the database; failing rows move to `rejected`."""
    spec = checked.spec
    valid_ids = {name: {r.external_id for _, r in table.valid} for name, table in done.items()}  # once, not per row
    keep = []
    for line, row in checked.valid:
        problems = []
        for ours, target in spec.references.items():
            ref = getattr(row, ours)
            if ref is None:
                continue
            other = done.get(target)
            if other and ref in valid_ids[target]:
                continue
            bad_line = _rejected_line(other, ref) if other else None
            if bad_line is not None and other is not None:
                problems.append((ours, f"{target} {ref!r} is rejected ({other.raw.location} line {bad_line})"))
            elif ref not in db.ids.get(target, set()):
                source = f"the {target} file ({other.raw.location})" if other else f"the {target} mapping"
                problems.append((ours, f"{target} {ref!r} is not in {source} nor in the database"))
        if spec.unique:
            key = getattr(row, spec.unique)
            owner = db.unique.get(spec.name, {}).get(key, row.external_id)
            if owner is not None and owner != row.external_id:
                problems.append(
                    (spec.unique, f"{spec.unique} {key!r} belongs to {spec.name} {owner!r} in the database")
                )
        if problems:
            for ours, reason in problems:
                checked.reject(line, mapping.columns.get(ours, ours), reason)
        else:
            keep.append((line, row))
    checked.valid = keep


def _rejected_line(other: CheckedTable, ref: str) -> int | None:
    """The line of `other` that carried external id `ref` but was rejected, if any (read from its raw cells)."""
    by_line = {r.line: r for r in other.raw.rows}
    for line in other.rejected:
        raw = by_line.get(line)
        if raw is not None and str(raw.values.get(other.external_column, "")).strip() == ref:
            return line
    return None


def check_all(
    mapping: ImportMapping, raws: dict[str, RawTable], db: ExistingKeys, progress: Progress | None = None
) -> tuple[dict[str, CheckedTable], list[Reject]]:
    """Every mapped table checked in dependency order; file-level problems are returned separately."""
    done: dict[str, CheckedTable] = {}
    file_problems: list[Reject] = []
    for spec, table_mapping in mapping.ordered():
        result = check_table(spec, table_mapping, raws[spec.name], progress)
        if isinstance(result, list):
            file_problems.extend(result)
            continue
        check_against(result, table_mapping, done, db)
        done[spec.name] = result
    return done, file_problems
