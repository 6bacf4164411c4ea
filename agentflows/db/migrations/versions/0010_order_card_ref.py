"""order card ref: the payment processor's reference of the card that paid an order

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 16:00:00

A token or fingerprint (never the card number) lets the velocity signal count a card's orders across
accounts: one card emptied through several new accounts is invisible per account. Rows without one
(seeded data, exports without the column) keep the card-country stand-in. Indexed with `placed_at`
for the signal's window query.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | Sequence[str] | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("orders") as batch:
        batch.add_column(sa.Column("card_ref", sa.String(length=64), nullable=True))
        batch.create_index("ix_orders_card_time", ["card_ref", "placed_at"])


def downgrade() -> None:
    with op.batch_alter_table("orders") as batch:
        batch.drop_index("ix_orders_card_time")
        batch.drop_column("card_ref")
