"""The public verifier: page tokens looked up by their SHA-256, a stable status-list index, signed status lists.

``certificates.verification_token_sha256`` holds the SHA-256 (hex) of the
page token: the page looks a token up by it, so an unknown number and a known
one take the same path. ``certificates.status_index`` is the certificate's
place in the credentials' Bitstring Status List, assigned once and never
changed. Existing certificates get both here (their index in issue order).
New rows get them from the database itself, whoever inserts them: on
PostgreSQL a trigger computes the hash and takes the index from a sequence; on
SQLite (which has no SHA-256) a trigger assigns the index and the hash stays
empty until the issuing code writes it, the page then finding the row by number.
``status_lists`` holds each status list credential as the signing side signed it.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import hashlib

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_CHUNK = 1000
_PG_FUNCTION = """
CREATE OR REPLACE FUNCTION certificates_public_verifier() RETURNS trigger AS $$
BEGIN
  NEW.verification_token_sha256 := encode(sha256(convert_to(NEW.verification_token, 'UTF8')), 'hex');
  IF NEW.status_index IS NULL THEN
    NEW.status_index := nextval('certificates_status_index_seq');
  END IF;
  RETURN NEW;
END $$ LANGUAGE plpgsql
"""
_PG_TRIGGER = """
CREATE TRIGGER certificates_public_verifier BEFORE INSERT OR UPDATE OF verification_token, status_index
ON certificates FOR EACH ROW EXECUTE FUNCTION certificates_public_verifier()
"""
# SQLite runs one writer at a time, so MAX + 1 is never taken twice.
_SQLITE_TRIGGER = """
CREATE TRIGGER certificates_status_index AFTER INSERT ON certificates
FOR EACH ROW WHEN NEW.status_index IS NULL
BEGIN
  UPDATE certificates SET status_index = (SELECT COALESCE(MAX(status_index), -1) + 1 FROM certificates)
  WHERE number = NEW.number;
END
"""


def upgrade() -> None:
    with op.batch_alter_table("certificates", schema=None) as batch_op:
        batch_op.add_column(sa.Column("verification_token_sha256", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("status_index", sa.BigInteger(), nullable=True))

    certificates = sa.table(
        "certificates",
        sa.column("number", sa.String),
        sa.column("issued_at", sa.String),
        sa.column("verification_token", sa.String),
        sa.column("verification_token_sha256", sa.String),
        sa.column("status_index", sa.BigInteger),
    )
    connection = op.get_bind()
    rows = connection.execute(
        sa.select(certificates.c.number, certificates.c.verification_token).order_by(
            certificates.c.issued_at, certificates.c.number
        )
    ).all()
    update = (
        certificates.update()
        .where(certificates.c.number == sa.bindparam("b_number"))
        .values(verification_token_sha256=sa.bindparam("b_hash"), status_index=sa.bindparam("b_index"))
    )
    for start in range(0, len(rows), _CHUNK):
        chunk = rows[start : start + _CHUNK]
        connection.execute(update, [
            {"b_number": number, "b_hash": hashlib.sha256(token.encode("utf-8")).hexdigest(), "b_index": start + i}
            for i, (number, token) in enumerate(chunk)
        ])  # fmt: skip

    op.create_index("ix_certificates_token_sha256", "certificates", ["verification_token_sha256"], unique=True)
    op.create_index("ix_certificates_status_index", "certificates", ["status_index"], unique=True)
    op.create_table(
        "status_lists",
        sa.Column("list_number", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("credential", sa.Text(), nullable=False),
        sa.Column("revoked_indexes_sha256", sa.String(length=64), nullable=False),
        sa.Column("published_at", sa.String(length=40), nullable=False),
    )
    if connection.dialect.name == "postgresql":
        op.execute(f"CREATE SEQUENCE certificates_status_index_seq START WITH {len(rows)} MINVALUE 0")
        op.execute(_PG_FUNCTION)
        op.execute(_PG_TRIGGER)
    else:
        op.execute(_SQLITE_TRIGGER)


def downgrade() -> None:
    connection = op.get_bind()
    if connection.dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS certificates_public_verifier ON certificates")
        op.execute("DROP FUNCTION IF EXISTS certificates_public_verifier()")
        op.execute("DROP SEQUENCE IF EXISTS certificates_status_index_seq")
    else:
        op.execute("DROP TRIGGER IF EXISTS certificates_status_index")
    op.drop_table("status_lists")
    op.drop_index("ix_certificates_status_index", table_name="certificates")
    op.drop_index("ix_certificates_token_sha256", table_name="certificates")
    with op.batch_alter_table("certificates", schema=None) as batch_op:
        batch_op.drop_column("status_index")
        batch_op.drop_column("verification_token_sha256")
