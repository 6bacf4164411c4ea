"""webhook deliveries become a durable dispatch queue: a ticket to poll, parameters until the run exists

Revision ID: 0006
Revises: 0003
Create Date: 2026-11-24 06:25:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("webhook_deliveries") as batch:
        batch.add_column(sa.Column("ticket", sa.String(length=32), nullable=True))
        batch.add_column(sa.Column("parameters", sa.JSON(), nullable=True))
        batch.create_unique_constraint("uq_webhook_deliveries_ticket", ["ticket"])
        batch.create_index("ix_webhook_deliveries_status", ["status"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("webhook_deliveries") as batch:
        batch.drop_index("ix_webhook_deliveries_status")
        batch.drop_constraint("uq_webhook_deliveries_ticket", type_="unique")
        batch.drop_column("parameters")
        batch.drop_column("ticket")
