"""external ids: the key an imported or synced row has in the team's own CRM or marketplace

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 04:15:00

`agentflows import` and the sync flows upsert by this key, so importing the same export twice changes nothing
and an updated export updates rows. Seeded rows have none (NULL; a unique index allows many NULLs on SQLite and
PostgreSQL alike).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

IMPORTED = (
    "accounts",
    "contacts",
    "deals",
    "activities",
    "customers",
    "orders",
    "order_returns",
    "shipment_events",
    "payment_incidents",
    "claims",
    "known_fraud_addresses",
)


def upgrade() -> None:
    for table in IMPORTED:
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("external_id", sa.String(length=200), nullable=True))
            batch.create_unique_constraint(f"uq_{table}_external_id", ["external_id"])


def downgrade() -> None:
    for table in IMPORTED:
        with op.batch_alter_table(table) as batch:
            batch.drop_constraint(f"uq_{table}_external_id", type_="unique")
            batch.drop_column("external_id")
