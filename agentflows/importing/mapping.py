"""The mapping file: which file (or query) fills each of our tables, and how their columns and words map.

    source: sqlite:///export.db          # only for tables read with `query` (any SQLAlchemy URL)
    accounts:
      file: accounts.csv                 # relative to the mapping file (or the folder given)
      columns: {external_id: "Account ID", name: "Company", domain: "Website", employees: "Employees"}
    contacts:
      file: contacts.csv
      columns: {external_id: "Contact ID", account: "Account ID", email: "Email", seniority: "Level"}
      values:
        seniority: {"Sr. Manager": manager, "Chief": c-level}

Every mistake in the file itself (a table or field we do not have, a required field left out, both or
neither of `file` and `query`) is a `MappingError` naming the key to fix, raised before any data is read.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from agentflows.importing.kinds import KINDS
from agentflows.importing.tables import TableSpec


class MappingError(ValueError):
    """The mapping file itself is wrong; the message names the file and the key to fix."""


class TableMapping(BaseModel):
    model_config = ConfigDict(extra="forbid")

    file: str | None = Field(default=None, description="CSV, Parquet or Excel file, relative to the mapping file")
    query: str | None = Field(default=None, description="SQL run on `source`; its result columns are `columns`")
    columns: dict[str, str] = Field(description="our field -> their column name")
    values: dict[str, dict[str, str]] = Field(default_factory=dict, description="per field: their word -> ours")

    @model_validator(mode="after")
    def _one_source(self) -> TableMapping:
        if (self.file is None) == (self.query is None):
            raise ValueError("give exactly one of `file` and `query`")
        return self

    def location(self, table: str) -> str:
        """How a report names where a row came from: the file name, or `query <table>`."""
        return Path(self.file).name if self.file else f"query {table}"


class ImportMapping(BaseModel):
    """A validated mapping for one kind of import (`crm`); `path` is where it was read from."""

    kind: str
    path: Path
    source: str | None = None
    tables: dict[str, TableMapping]

    def spec(self, table: str) -> TableSpec:
        return KINDS[self.kind][table]

    def ordered(self) -> list[tuple[TableSpec, TableMapping]]:
        """The mapped tables in dependency order (accounts before the contacts that name them)."""
        return [(spec, self.tables[name]) for name, spec in KINDS[self.kind].items() if name in self.tables]


def parse_mapping(document: Any, kind: str, path: Path) -> ImportMapping:
    """Check a loaded mapping document against our tables and fields (see the module docstring)."""
    if kind not in KINDS:
        raise MappingError(f"unknown import kind {kind!r}: use one of {', '.join(KINDS)}")
    if not isinstance(document, dict) or not document:
        raise MappingError(f"{path}: expected a mapping of table names ({', '.join(KINDS[kind])}) to their files")
    document = dict(document)
    source = document.pop("source", None)
    known = KINDS[kind]
    tables: dict[str, TableMapping] = {}
    for name, entry in document.items():
        if name not in known:
            raise MappingError(f"{path}: unknown table {name!r} for a {kind} import (tables: {', '.join(known)})")
        try:
            table = TableMapping.model_validate(entry)
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or name}: {e['msg']}" for e in exc.errors())
            raise MappingError(f"{path}: table {name}: {problems}") from None
        spec = known[name]
        unknown = sorted(set(table.columns) - set(spec.fields)) + sorted(set(table.values) - set(spec.fields))
        if unknown:
            raise MappingError(
                f"{path}: {name}.columns names fields we do not have: {', '.join(unknown)} "
                f"(our fields: {', '.join(spec.fields)})"
            )
        missing = [f for f in spec.required if f not in table.columns]
        if missing:
            raise MappingError(f"{path}: {name}.columns must map {', '.join(missing)} (required fields)")
        if table.query and not source:
            raise MappingError(f"{path}: table {name} has a `query` but the mapping has no `source` URL")
        tables[name] = table
    return ImportMapping(kind=kind, path=path, source=source, tables=tables)


def load_mapping(path: Path | str, kind: str) -> ImportMapping:
    """Read and check a mapping file (YAML)."""
    path = Path(path)
    if not path.is_file():
        raise MappingError(f"mapping file {path} not found")
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8-sig"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise MappingError(f"{path}: not a readable YAML file: {exc}") from None
    return parse_mapping(document, kind, path)
