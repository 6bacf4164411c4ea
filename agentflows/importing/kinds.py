"""Every kind of import and its tables, in dependency order (a table only refers to tables before it)."""

from __future__ import annotations

from agentflows.importing.marketplace import MARKETPLACE_TABLES
from agentflows.importing.tables import CRM_TABLES, TableSpec

KINDS: dict[str, dict[str, TableSpec]] = {"crm": CRM_TABLES, "marketplace": MARKETPLACE_TABLES}
TABLES: dict[str, TableSpec] = {name: spec for kind in KINDS.values() for name, spec in kind.items()}
