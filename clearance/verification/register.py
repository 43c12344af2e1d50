"""The certificate register: what the service issued, its token and its current standing."""

from __future__ import annotations

import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy import select
from sqlalchemy.orm import Session

from clearance.domain.page_token import token_sha256
from clearance.signing.keys import verify
from clearance.store.types import IsoDateTime
from clearance.verification.offline import Verdict, same_certificate

Standing = Literal["valid", "revoked", "invalid"]

# The register as the verifier reads it (migration 0006 added the last two columns).
CERTIFICATES = sa.table(
    "certificates",
    sa.column("number", sa.String),
    sa.column("document", sa.Text),
    sa.column("key_id", sa.String),
    sa.column("verification_token", sa.String),
    sa.column("revoked_at", IsoDateTime),
    sa.column("revocation_reason", sa.Text),
    sa.column("verification_token_sha256", sa.String),
    sa.column("status_index", sa.BigInteger),
)
_COLUMNS = [CERTIFICATES.c[name] for name in (
    "number", "document", "key_id", "verification_token", "revoked_at", "revocation_reason", "status_index",
)]  # fmt: skip


@dataclass(frozen=True, slots=True)
class Record:
    """A certificate as the register holds it."""

    number: str
    issued: dict[str, Any]  # the ``data`` of clearance.certificate.issued: certificate and proof
    key_id: str
    verification_token: str
    revoked_at: datetime | None
    revocation_reason: str | None
    status_index: int | None = None

    @property
    def certificate(self) -> dict[str, Any]:
        return self.issued["certificate"]

    @property
    def revoked(self) -> bool:
        return self.revoked_at is not None


def _record(row: sa.Row[Any]) -> Record:
    return Record(
        number=row.number,
        issued=json.loads(row.document),
        key_id=row.key_id,
        verification_token=row.verification_token,
        revoked_at=row.revoked_at,
        revocation_reason=row.revocation_reason,
        status_index=row.status_index,
    )




def find(session: Session, number: str) -> Record | None:
    """The certificate with ``number``, or None."""
    row = session.execute(select(*_COLUMNS).where(CERTIFICATES.c.number == number)).first()
    return _record(row) if row is not None else None


def find_by_token(session: Session, number: str, token: str) -> Record | None:
    """The certificate whose page token is ``token``, if its number is ``number``; None otherwise.

    The register is searched by the token's SHA-256, never by the number, so a
    known number with a wrong token and an unknown number take the same path. A
    row written without the hash (SQLite, until the issuing side stores it) is
    found by number and its token compared in constant time.
    """
    digest = token_sha256(token)
    row = session.execute(select(*_COLUMNS).where(CERTIFICATES.c.verification_token_sha256 == digest)).first()
    if row is None:
        row = session.execute(
            select(*_COLUMNS).where(CERTIFICATES.c.number == number, CERTIFICATES.c.verification_token_sha256.is_(None))
        ).first()
        if row is None or not hmac.compare_digest(token_sha256(row.verification_token), digest):
            return None
    return _record(row) if row.number == number else None


def numbers(session: Session, *, include_revoked: bool = False) -> list[str]:
    """Every certificate number in the register, in order."""
    query = select(CERTIFICATES.c.number).order_by(CERTIFICATES.c.number)
    if not include_revoked:
        query = query.where(CERTIFICATES.c.revoked_at.is_(None))
    return list(session.scalars(query))


def revoked_indexes(session: Session, first: int, last: int) -> list[int]:
    """The status indexes in ``[first, last)`` of certificates that are revoked."""
    query = select(CERTIFICATES.c.status_index).where(
        CERTIFICATES.c.revoked_at.is_not(None),
        CERTIFICATES.c.status_index >= first,
        CERTIFICATES.c.status_index < last,
    )
    return sorted(session.scalars(query))


def highest_status_index(session: Session) -> int | None:
    """The largest status index handed out, or None for an empty register."""
    return session.scalar(select(sa.func.max(CERTIFICATES.c.status_index)))


def standing(record: Record, jwks: Mapping[str, Any]) -> tuple[Standing, str]:
    """Whether a registered certificate holds now: revoked, or its signature checked against ``jwks``."""
    if record.revoked:
        return "revoked", record.revocation_reason or "revoked"
    valid, reason = verify(record.certificate, record.issued.get("proof", {}), jwks)
    return ("valid" if valid else "invalid"), reason


def answer(verdict: Verdict, record: Record | None) -> dict[str, Any]:
    """The answer of POST /verify: the proof's verdict, then what the register says of the certificate.

    The register is consulted only for a certificate whose proof holds, so a
    forged certificate learns nothing about the number it names.
    """
    body: dict[str, Any] = {
        "valid": False,
        "reason": verdict.reason,
        "signature_valid": verdict.valid,
        "form": verdict.form,
        "key_id": verdict.key_id,
        "number": verdict.certificate.get("number"),
        "status": None,
        "revoked_at": None,
        "revocation_reason": None,
    }
    if not verdict.valid:
        return body
    if record is None:
        body.update(status="unknown", reason="signed by this service's key, but not in its register")
        return body
    if not same_certificate(record.certificate, verdict.certificate):
        body.update(status="unknown", reason="differs from the certificate in the register under this number")
        return body
    if record.revoked:
        assert record.revoked_at is not None
        body.update(
            status="revoked",
            reason=f"revoked: {record.revocation_reason or 'no reason given'}",
            revoked_at=record.revoked_at.isoformat(),
            revocation_reason=record.revocation_reason,
        )
        return body
    body.update(valid=True, status="issued", reason="valid")
    return body
