"""``data`` of every event type the service publishes (SPEC §4.4)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from schemas.types import Amount, Currency, DegreeLevel, Identifier


class OutboundData(BaseModel):
    """Base of every outbound ``data`` model."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Status(StrEnum):
    """The status of a graduation application, as the registrar sees it."""

    PENDING = "pending"
    BLOCKED = "blocked"
    CLEARED = "cleared"
    WITHDRAWN = "withdrawn"
    REVOKED = "revoked"


class ReasonCode(StrEnum):
    """Why an application is not cleared."""

    OUTSTANDING_LOAN = "OUTSTANDING_LOAN"
    LOST_ITEM = "LOST_ITEM"
    UNPAID_FINES = "UNPAID_FINES"
    THESIS_NOT_DEPOSITED = "THESIS_NOT_DEPOSITED"
    THESIS_NOT_ACCEPTED = "THESIS_NOT_ACCEPTED"
    THESIS_REJECTED = "THESIS_REJECTED"
    TRAINING_NOT_COMPLETED = "TRAINING_NOT_COMPLETED"
    LOAN_AFTER_ISSUANCE = "LOAN_AFTER_ISSUANCE"
    SOURCE_NOT_CURRENT = "SOURCE_NOT_CURRENT"


class Reason(OutboundData):
    """One blocking reason. Which fields are set depends on ``code``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    code: ReasonCode
    library_id: Identifier | None = None
    loan_id: Identifier | None = None
    item_id: Identifier | None = None
    title: str | None = None
    borrowed_at: datetime | None = None
    due_at: datetime | None = None
    interlibrary: bool | None = None
    amount: Amount | None = None
    currency: Currency | None = None
    deposit_id: Identifier | None = None
    deposit_state: Literal["submitted", "rejected"] | None = None
    detail: str | None = None


class StatusChanged(OutboundData):
    """``clearance.status.changed``: an application's status or reasons changed."""

    application_id: Identifier
    student_id: Identifier
    status: Status
    reasons: list[Reason]
    evaluated_at: datetime


class Basis(OutboundData):
    """What the decision to clear rested on."""

    loans_outstanding: int = Field(ge=0)
    fines_outstanding: Amount
    deposit_id: Identifier | None


class Certificate(OutboundData):
    """The signed content of a clearance certificate."""

    number: str = Field(min_length=1, max_length=200)
    application_id: Identifier
    student_id: Identifier
    full_name: str
    faculty: str
    program: str
    degree_level: DegreeLevel
    graduation_period: Identifier
    issued_at: datetime
    issuer: str
    basis: Basis


class Proof(OutboundData):
    """An Ed25519 signature over the JCS canonical form of the certificate."""

    alg: Literal["Ed25519"]
    key_id: str
    signature: str = Field(pattern=r"^[A-Za-z0-9_-]+$")


class CertificateIssued(OutboundData):
    """``clearance.certificate.issued``: a signed certificate."""

    certificate: Certificate
    proof: Proof


class CertificateRevoked(OutboundData):
    """``clearance.certificate.revoked``: a certificate no longer holds."""

    number: str
    application_id: Identifier
    student_id: Identifier
    reason: str
    revoked_at: datetime
