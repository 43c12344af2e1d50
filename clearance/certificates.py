"""Clearance certificates: numbering, content and signature (SPEC §4.4, G8)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from clearance.engine import Basis, format_amount
from clearance.policy import Rules
from clearance.signing import SigningKey
from schemas.outbound import Certificate, CertificateIssued


def number_scope(rules: Rules, *, period: str, year: int, faculty: str, program: str, degree: str) -> str:
    """The counter a number is drawn from: every number that differs only in ``seq``."""
    return "certificate:" + rules.certificate_number_format.format(
        period=period, seq=0, year=year, faculty=faculty, program=program, degree=degree
    )


def format_number(rules: Rules, seq: int, *, period: str, year: int, faculty: str, program: str, degree: str) -> str:
    """The certificate number, by the policy's format."""
    return rules.certificate_number_format.format(
        period=period, seq=seq, year=year, faculty=faculty, program=program, degree=degree
    )


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


def sign_certificate(document: dict[str, Any], key: SigningKey) -> dict[str, Any]:
    """The ``data`` of ``clearance.certificate.issued``: the certificate and its proof."""
    issued = {"certificate": document, "proof": key.sign(document)}
    CertificateIssued.model_validate(issued)
    return issued
