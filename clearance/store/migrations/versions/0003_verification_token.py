"""Verification token: the unguessable value in a certificate's QR code that opens its public page.

Certificates issued before this revision get a fresh token each.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import secrets

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_CHUNK = 1000


def upgrade() -> None:
    with op.batch_alter_table("certificates", schema=None) as batch_op:
        batch_op.add_column(sa.Column("verification_token", sa.String(length=64), nullable=True))

    # Backfill in Python, not SQL: the token must come from a CSPRNG (32 bytes, as the service issues them).
    certificates = sa.table("certificates", sa.column("number", sa.String), sa.column("verification_token", sa.String))
    connection = op.get_bind()
    numbers = connection.execute(
        sa.select(certificates.c.number).where(certificates.c.verification_token.is_(None))
    ).scalars().all()
    update = (
        certificates.update()
        .where(certificates.c.number == sa.bindparam("b_number"))
        .values(verification_token=sa.bindparam("b_token"))
    )
    for start in range(0, len(numbers), _CHUNK):
        chunk = numbers[start : start + _CHUNK]
        connection.execute(update, [{"b_number": n, "b_token": secrets.token_urlsafe(32)} for n in chunk])

    with op.batch_alter_table("certificates", schema=None) as batch_op:
        batch_op.alter_column("verification_token", existing_type=sa.String(length=64), nullable=False)


def downgrade() -> None:
    with op.batch_alter_table("certificates", schema=None) as batch_op:
        batch_op.drop_column("verification_token")
