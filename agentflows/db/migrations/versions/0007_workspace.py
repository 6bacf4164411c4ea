"""workspace snapshots and changes; every output records the workspace version that produced it

Revision ID: 0007
Revises: 0002, 0004, 0005, 0006
Create Date: 2026-12-02 01:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | Sequence[str] | None = ("0002", "0004", "0005", "0006")
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

VERSIONED = ("outreach_drafts", "fraud_decisions", "landing_plans", "model_usage")


def upgrade() -> None:
    op.create_table(
        "workspace_snapshots",
        sa.Column("id", sa.String(length=16), nullable=False),
        sa.Column("files", sa.JSON(), nullable=False),
        sa.Column("manifest", sa.JSON(), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("live_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_workspace_snapshots_live_at", "workspace_snapshots", ["live_at"], unique=False)
    op.create_table(
        "workspace_changes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("flow_run_id", sa.String(length=64), nullable=False),
        sa.Column("proposal", sa.Text(), nullable=False),
        sa.Column("base_version", sa.String(length=16), nullable=True),
        sa.Column("proposed_version", sa.String(length=16), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("changes", sa.JSON(), nullable=False),
        sa.Column("reviewer", sa.String(length=200), nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("flow_run_id"),
    )
    for table in VERSIONED:
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("workspace_version", sa.String(length=16), nullable=True))


def downgrade() -> None:
    for table in VERSIONED:
        with op.batch_alter_table(table) as batch:
            batch.drop_column("workspace_version")
    op.drop_table("workspace_changes")
    op.drop_index("ix_workspace_snapshots_live_at", table_name="workspace_snapshots")
    op.drop_table("workspace_snapshots")
