"""Freshness gate, reconciliation and replay: positions, arrival and staleness, snapshots, payments, replays.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "consumer_positions",
        sa.Column("topic", sa.String(length=200), nullable=False),
        sa.Column("partition", sa.Integer(), nullable=False),
        sa.Column("next_offset", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("topic", "partition", name=op.f("pk_consumer_positions")),
    )
    with op.batch_alter_table("applications", schema=None) as batch_op:
        batch_op.add_column(sa.Column("received_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("stale_sources", sa.Text(), nullable=True))
    with op.batch_alter_table("fines", schema=None) as batch_op:
        batch_op.add_column(sa.Column("waived_stamp", sa.String(length=1300), nullable=True))
    with op.batch_alter_table("dead_letters", schema=None) as batch_op:
        batch_op.add_column(sa.Column("replayed_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("replay_count", sa.Integer(), nullable=False, server_default="0"))
    op.create_table(
        "fine_payments",
        sa.Column("library_id", sa.String(length=200), nullable=False),
        sa.Column("fine_id", sa.String(length=200), nullable=False),
        sa.Column("payment_stamp", sa.String(length=1300), nullable=False),
        sa.Column("amount", sa.String(length=40), nullable=False),
        sa.PrimaryKeyConstraint("library_id", "fine_id", "payment_stamp", name=op.f("pk_fine_payments")),
    )
    op.create_table(
        "patron_snapshots",
        sa.Column("library_id", sa.String(length=200), nullable=False),
        sa.Column("patron_id", sa.String(length=200), nullable=False),
        sa.Column("snapshot_stamp", sa.String(length=1300), nullable=True),
        sa.Column("as_of", sa.String(length=40), nullable=True),
        sa.Column("open_loans", sa.Text(), nullable=False),
        sa.Column("fine_balance", sa.String(length=40), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=True),
        sa.PrimaryKeyConstraint("library_id", "patron_id", name=op.f("pk_patron_snapshots")),
    )


def downgrade() -> None:
    op.drop_table("patron_snapshots")
    op.drop_table("fine_payments")
    with op.batch_alter_table("dead_letters", schema=None) as batch_op:
        batch_op.drop_column("replay_count")
        batch_op.drop_column("replayed_at")
    with op.batch_alter_table("fines", schema=None) as batch_op:
        batch_op.drop_column("waived_stamp")
    with op.batch_alter_table("applications", schema=None) as batch_op:
        batch_op.drop_column("stale_sources")
        batch_op.drop_column("received_at")
    op.drop_table("consumer_positions")
