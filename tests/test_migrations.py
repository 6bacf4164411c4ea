"""The migrations build exactly the schema the models describe, so `agentflows migrate` on a user's database
gives the code the tables it expects (a column added to a model without a migration fails here)."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine

import agentflows.db.models  # noqa: F401  (every table module registers on the shared metadata)
from agentflows.db.base import Base


def test_migrated_database_matches_the_models(empty_db: str) -> None:
    engine = create_engine(empty_db)
    try:
        with engine.connect() as conn:
            differences = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    finally:
        engine.dispose()
    assert differences == []


def test_imported_tables_are_keyed_by_their_external_id(empty_db: str) -> None:
    """Import and sync upsert by `external_id`: two rows may not share one."""
    from sqlalchemy import inspect

    engine = create_engine(empty_db)
    try:
        inspector = inspect(engine)
        for table in ("accounts", "contacts", "activities", "customers", "orders", "claims"):
            unique = {tuple(u["column_names"]) for u in inspector.get_unique_constraints(table)}
            assert ("external_id",) in unique, table
    finally:
        engine.dispose()
