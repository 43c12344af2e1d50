"""The states the service keeps of each entity: loans, fines, deposits, links, snapshots, applications.

Frozen dataclasses, the source of truth for each shape: the tables in
:mod:`clearance.store.tables` and their migrations mirror these fields
column by column (the repository converts field by field).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from schemas import inbound
from schemas.outbound import Status


class LoanStatus(StrEnum):
    OPEN = "open"
    LOST = "lost"
    RETURNED = "returned"


class DepositState(StrEnum):
    SUBMITTED = "submitted"
    ACCEPTED = "accepted"
    REJECTED = "rejected"


@dataclass(frozen=True, slots=True)
class Loan:
    """What is known of one loan (unique per library)."""

    library_id: str
    loan_id: str
    patron_id: str | None = None
    item_id: str | None = None
    title: str | None = None
    borrowed_at: datetime | None = None
    interlibrary: bool = False
    opened_stamp: str | None = None
    due_at: datetime | None = None
    due_stamp: str | None = None
    status: LoanStatus | None = None
    status_stamp: str | None = None
    returned_at: datetime | None = None

    @property
    def outstanding(self) -> bool:
        """The loan blocks: the item is out (or lost) and not known to be back."""
        return self.status in (LoanStatus.OPEN, LoanStatus.LOST)


@dataclass(frozen=True, slots=True)
class Fine:
    """What is known of one fine (unique per library). Amounts are exact decimals."""

    library_id: str
    fine_id: str
    patron_id: str | None = None
    amount: Decimal | None = None
    currency: str | None = None
    reason: str | None = None
    loan_id: str | None = None
    assessed_stamp: str | None = None
    paid: Decimal = Decimal(0)
    waived: bool = False
    waived_stamp: str | None = None

    @property
    def outstanding(self) -> Decimal:
        """What is still owed; nothing until the assessment is known."""
        if self.waived or self.amount is None:
            return Decimal(0)
        return max(Decimal(0), self.amount - self.paid)


@dataclass(frozen=True, slots=True)
class Payment:
    """One payment of a fine, kept with its stamp for reconciliation."""

    library_id: str
    fine_id: str
    payment_stamp: str
    amount: Decimal


@dataclass(frozen=True, slots=True)
class PatronSnapshot:
    """A library's statement of a patron's whole state as of a moment (reconciliation)."""

    library_id: str
    patron_id: str
    snapshot_stamp: str | None = None
    as_of: datetime | None = None
    open_loans: str = "[]"
    fine_balance: Decimal = Decimal(0)
    currency: str | None = None

    def entry(self, loan_id: str) -> inbound.SnapshotLoan | None:
        """The snapshot's line for ``loan_id``, if it lists it as open."""
        for line in json.loads(self.open_loans):
            if line["loan_id"] == loan_id:
                return inbound.SnapshotLoan.model_validate(line)
        return None


@dataclass(frozen=True, slots=True)
class Deposit:
    """What is known of one deposit of a final work."""

    deposit_id: str
    student_id: str
    title: str | None = None
    degree_level: str | None = None
    submitted_stamp: str | None = None
    state: DepositState | None = None
    state_stamp: str | None = None
    repository_id: str | None = None
    rejection_reason: str | None = None


@dataclass(frozen=True, slots=True)
class PatronLink:
    """A library's patron record belongs to a student."""

    library_id: str
    patron_id: str
    student_id: str | None = None
    link_stamp: str | None = None


@dataclass(frozen=True, slots=True)
class Training:
    """A patron completed a library course."""

    library_id: str
    patron_id: str
    course: str
    completed_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Application:
    """A graduation application, as the registrar submitted (and maybe withdrew) it."""

    application_id: str
    student_id: str
    full_name: str | None = None
    faculty: str | None = None
    program: str | None = None
    degree_level: str | None = None
    graduation_period: str | None = None
    ceremony_date: str | None = None
    submitted_at: datetime | None = None
    submitted_stamp: str | None = None
    withdrawn: bool = False
    withdrawn_reason: str | None = None
    withdrawn_at: datetime | None = None
    # The stamp of the withdrawal whose details are kept: the latest, as for every other fact (G5).
    withdrawn_stamp: str | None = None

    @property
    def submitted(self) -> bool:
        return self.submitted_stamp is not None


@dataclass(slots=True)
class TrackedApplication:
    """An application as a decision sees it: its state and what the registrar was last told."""

    application: Application
    status: Status = Status.PENDING
    # The canonical JSON of the reasons last published, compared to decide whether to publish again.
    reasons: str = "[]"
    # When the service first stored it: the freshness gate waits from here.
    received_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class IssuedCertificate:
    """A certificate the service issued, as later decisions need it."""

    number: str
    application_id: str
    student_id: str
    issued_at: datetime
    issuer: str
    revoked_at: datetime | None = None
