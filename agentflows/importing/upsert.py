"""Valid rows into the database by external id: add the new, update the changed, leave the rest.

All of it happens in the caller's one session and transaction (`run_import` commits once at the end,
or rolls back on a dry run or any error), so an import is all or nothing, and importing the same
files twice changes nothing. A row already in the database without an external id (seeded before
imports existed) but with the same domain or email is adopted: it gets the external id and the new values.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from enum import Enum
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from agentflows.db.fraud import Address
from agentflows.importing.kinds import TABLES
from agentflows.importing.mapping import ImportMapping
from agentflows.importing.marketplace import address_values
from agentflows.importing.report import TableCounts
from agentflows.importing.tables import TableSpec
from agentflows.importing.validate import CheckedTable, ExistingKeys

REFERENCE_COLUMNS = {"account": "account_id", "contact": "contact_id", "customer": "customer_id", "order": "order_id"}


def existing_keys(session: Session, mapping: ImportMapping) -> ExistingKeys:
    """The external ids (and second keys) of every table the mapping writes or refers to."""
    keys = ExistingKeys()
    names = set(mapping.tables) | {t for spec, _ in mapping.ordered() for t in spec.references.values()}
    for name in names:
        spec = mapping.spec(name)
        keys.ids[name] = set(session.scalars(select(spec.model.external_id).where(spec.model.external_id.isnot(None))))
        if spec.unique:
            column = getattr(spec.model, spec.unique)
            keys.unique[name] = dict(session.execute(select(column, spec.model.external_id)).tuples().all())
    return keys


def _same(current: Any, new: Any) -> bool:
    """Equal as stored: SQLite hands back naive datetimes and floats where we hold aware ones and Decimals."""
    if isinstance(current, Enum) or isinstance(new, Enum):
        return str(getattr(current, "value", current)) == str(getattr(new, "value", new))
    if isinstance(current, datetime) and isinstance(new, datetime):
        as_utc = [d.replace(tzinfo=UTC) if d.tzinfo is None else d.astimezone(UTC) for d in (current, new)]
        return as_utc[0] == as_utc[1]
    if isinstance(new, Decimal) and current is not None:
        return Decimal(str(current)).quantize(Decimal("0.01")) == new.quantize(Decimal("0.01"))
    return bool(current == new)


def upsert_table(session: Session, checked: CheckedTable, ids: dict[str, dict[str, int]]) -> TableCounts:
    """Write one checked table; `ids` maps each table's external ids to row ids and grows with this one."""
    spec: TableSpec = checked.spec
    model = spec.model
    counts = TableCounts(rejected=len(checked.rejected))
    by_external = {r.external_id: r for r in session.scalars(select(model).where(model.external_id.isnot(None)))}
    by_unique: dict[str, Any] = {}
    if spec.unique:  # rows without an external id that a new row may adopt by domain or email
        unowned = session.scalars(select(model).where(model.external_id.is_(None)))
        by_unique = {getattr(r, spec.unique): r for r in unowned}
    for target in spec.references.values():
        if target not in ids:
            target_model = TABLES[target].model
            known = select(target_model.external_id, target_model.id).where(target_model.external_id.isnot(None))
            ids[target] = dict(session.execute(known).tuples().all())
    mine = ids.setdefault(spec.name, {})
    planned = []
    for _line, row in checked.valid:
        values = row.columns()
        for ours, target in spec.references.items():
            ref = getattr(row, ours)
            values[REFERENCE_COLUMNS[ours]] = ids[target][ref] if ref is not None else None
        current = by_external.get(row.external_id)
        if current is None and spec.unique:
            current = by_unique.get(values[spec.unique])
        planned.append((row, values, current))
    moved = _place_addresses(session, spec, planned)
    for row, values, current in planned:
        if current is None:
            obj = model(**values)
            session.add(obj)
            counts.added += 1
            by_external[row.external_id] = obj
            continue
        changed = {k: v for k, v in values.items() if not _same(getattr(current, k), v)}
        for k, v in changed.items():
            setattr(current, k, v)
        if changed or id(current) in moved:
            counts.updated += 1
        else:
            counts.unchanged += 1
    session.flush()
    mine.update({ext: obj.id for ext, obj in by_external.items()})
    return counts


def _place_addresses(session: Session, spec: TableSpec, planned: list[tuple[Any, dict[str, Any], Any]]) -> set[int]:
    """Write the inline addresses of a table's rows; returns the ids of existing rows whose address changed.

    A new row (or one without an address yet) gets a new `addresses` row; an existing row's address is
    updated in place, so its id, and every other row that points at it, stays. New addresses are flushed
    together, once, so the rows can point at them.
    """
    if not spec.addresses:
        return set()
    moved: set[int] = set()
    fresh: list[tuple[dict[str, Any], str, Address]] = []
    for row, values, current in planned:
        for column, place in address_values(spec, row).items():
            if place is None:
                continue
            address_id = getattr(current, column, None) if current is not None else None
            address = session.get(Address, address_id) if address_id else None
            if address is None:
                address = Address(customer_id=values.get("customer_id"), **place)
                session.add(address)
                fresh.append((values, column, address))
                if current is not None:
                    moved.add(id(current))
                continue
            changed = {k: v for k, v in place.items() if not _same(getattr(address, k), v)}
            for k, v in changed.items():
                setattr(address, k, v)
            if changed:
                moved.add(id(current))
            values[column] = address.id
    session.flush()
    for values, column, address in fresh:
        values[column] = address.id
    return moved
