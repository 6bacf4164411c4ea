"""model usage api: which provider API (and endpoint) answered each request

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 04:40:00

`openai:<model>` (Responses) and `openai-chat:<model>` (Chat Completions), or two OpenAI-compatible servers, can
serve the same model name at different prices; `agentflows usage` groups by this column so they stay apart. Rows
recorded before it have none (NULL, shown as the provider).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("model_usage") as batch:
        batch.add_column(sa.Column("api", sa.String(length=200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("model_usage") as batch:
        batch.drop_column("api")
