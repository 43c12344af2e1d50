"""Withdrawals keep the latest-stamped details; outbox rows the broker refuses for good are set aside.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("applications", schema=None) as batch_op:
        batch_op.add_column(sa.Column("withdrawn_stamp", sa.String(length=1300), nullable=True))
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("set_aside_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("set_aside_reason", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_column("set_aside_reason")
        batch_op.drop_column("set_aside_at")
    with op.batch_alter_table("applications", schema=None) as batch_op:
        batch_op.drop_column("withdrawn_stamp")
