"""The certificate: its content as signed and published, and its proof (SPEC §4.4, G8)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from clearance.domain.decision import Basis, format_amount
from schemas.outbound import Certificate, CertificateIssued


class Signer(Protocol):
    """A key that signs a certificate (an Ed25519 key in :mod:`clearance.signing.keys`)."""

    key_id: str

    def sign(self, document: dict[str, Any]) -> dict[str, str]:
        """The ``proof`` object for ``document``."""
        ...


def certificate_document(
    *,
    number: str,
    application_id: str,
    student_id: str,
    full_name: str,
    faculty: str,
    program: str,
    degree_level: str,
    graduation_period: str,
    issued_at: datetime,
    issuer: str,
    basis: Basis,
) -> dict[str, Any]:
    """The ``certificate`` object exactly as it is signed and published."""
    certificate = Certificate.model_validate(
        {
            "number": number,
            "application_id": application_id,
            "student_id": student_id,
            "full_name": full_name,
            "faculty": faculty,
            "program": program,
            "degree_level": degree_level,
            "graduation_period": graduation_period,
            "issued_at": issued_at.replace(microsecond=0),
            "issuer": issuer,
            "basis": {
                "loans_outstanding": basis.loans_outstanding,
                "fines_outstanding": format_amount(basis.fines_outstanding),
                "deposit_id": basis.deposit_id,
            },
        }
    )
    return certificate.model_dump(mode="json")


def sign_certificate(document: dict[str, Any], key: Signer) -> dict[str, Any]:
    """The ``data`` of ``clearance.certificate.issued``: the certificate and its proof."""
    issued = {"certificate": document, "proof": key.sign(document)}
    CertificateIssued.model_validate(issued)
    return issued
