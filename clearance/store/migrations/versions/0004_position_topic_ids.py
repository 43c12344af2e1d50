"""Consumer positions remember which incarnation of a topic they count in.

An offset means something only within one topic: a topic deleted and created
again under the same name (or a broker that came back empty) starts at zero,
and a position stored against the old log would make the freshness gate call
the new one applied. Positions stored before this revision have no topic id
and keep counting as they did.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("consumer_positions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("topic_id", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("consumer_positions", schema=None) as batch_op:
        batch_op.drop_column("topic_id")
