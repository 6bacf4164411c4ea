"""Alembic environment: migrations run against the URL the caller configured (never an ini file)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine, pool

import agentflows.db.models  # noqa: F401  (registers every table on Base.metadata)
from agentflows.db.base import Base

config = context.config
target_metadata = Base.metadata


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = create_engine(config.get_main_option("sqlalchemy.url"), poolclass=pool.NullPool)
    with engine.connect() as conn:
        context.configure(connection=conn, target_metadata=target_metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()


run_migrations_online()
