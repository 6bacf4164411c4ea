"""outreach drafts remember which reviewer examples their writer was given

Revision ID: 0005
Revises: 0001
Create Date: 2026-11-24 06:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("outreach_drafts") as batch:
        batch.add_column(sa.Column("style_examples", sa.JSON(), nullable=False, server_default="[]"))


def downgrade() -> None:
    with op.batch_alter_table("outreach_drafts") as batch:
        batch.drop_column("style_examples")
