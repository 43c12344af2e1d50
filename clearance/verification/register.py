"""The certificate register: what the service issued, its token and its current standing."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from clearance.signing.keys import verify
from clearance.store.tables import CertificateRow
from clearance.verification.offline import Verdict, same_certificate

Standing = Literal["valid", "revoked", "invalid"]


@dataclass(frozen=True, slots=True)
class Record:
    """A certificate as the register holds it."""

    number: str
    issued: dict[str, Any]  # the ``data`` of clearance.certificate.issued: certificate and proof
    key_id: str
    verification_token: str
    revoked_at: datetime | None
    revocation_reason: str | None

    @property
    def certificate(self) -> dict[str, Any]:
        return self.issued["certificate"]

    @property
    def revoked(self) -> bool:
        return self.revoked_at is not None


def _record(row: CertificateRow) -> Record:
    return Record(
        number=row.number,
        issued=json.loads(row.document),
        key_id=row.key_id,
        verification_token=row.verification_token,
        revoked_at=row.revoked_at,
        revocation_reason=row.revocation_reason,
    )


def find(session: Session, number: str) -> Record | None:
    """The certificate with ``number``, or None."""
    row = session.get(CertificateRow, number)
    return _record(row) if row is not None else None


def numbers(session: Session, *, include_revoked: bool = False) -> list[str]:
    """Every certificate number in the register, in order."""
    query = select(CertificateRow.number).order_by(CertificateRow.number)
    if not include_revoked:
        query = query.where(CertificateRow.revoked_at.is_(None))
    return list(session.scalars(query))


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
