"""``data`` of every event type the service consumes (SPEC §4.3).

Unknown ``data`` fields are ignored, as the contract requires.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool

from schemas.types import Amount, Currency, DegreeLevel, Identifier, OptionalText, Text, Timestamp


class InboundData(BaseModel):
    """Base of every inbound ``data`` model."""

    model_config = ConfigDict(extra="ignore", frozen=True)


class ApplicationSubmitted(InboundData):
    """``graduation.application.submitted``: a student applies to graduate."""

    application_id: Identifier
    student_id: Identifier
    full_name: Text
    faculty: Text
    program: Text
    degree_level: DegreeLevel
    graduation_period: Identifier
    ceremony_date: date | None = None


class ApplicationWithdrawn(InboundData):
    """``graduation.application.withdrawn``: the application is withdrawn."""

    application_id: Identifier
    student_id: Identifier
    reason: OptionalText | None = None


class PatronLinked(InboundData):
    """``library.patron.linked``: a library's patron record belongs to a student."""

    patron_id: Identifier
    library_id: Identifier
    student_id: Identifier


class LoanOpened(InboundData):
    """``library.loan.opened``: an item is lent to a patron."""

    loan_id: Identifier
    library_id: Identifier
    patron_id: Identifier
    item_id: Identifier
    title: Text
    borrowed_at: Timestamp
    due_at: Timestamp
    interlibrary: StrictBool = False


class LoanRenewed(InboundData):
    """``library.loan.renewed``: the loan gets a new due date."""

    loan_id: Identifier
    library_id: Identifier
    due_at: Timestamp


class LoanReturned(InboundData):
    """``library.loan.returned``: the item is back; the loan no longer blocks."""

    loan_id: Identifier
    library_id: Identifier
    returned_at: Timestamp


class LoanLost(InboundData):
    """``library.loan.lost``: the item is declared lost and keeps blocking."""

    loan_id: Identifier
    library_id: Identifier


class FineAssessed(InboundData):
    """``library.fine.assessed``: a fine is charged to a patron."""

    fine_id: Identifier
    library_id: Identifier
    patron_id: Identifier
    amount: Amount
    currency: Currency
    reason: Text
    loan_id: Identifier | None = None


class FinePaid(InboundData):
    """``library.fine.paid``: a (partial) payment of a fine."""

    fine_id: Identifier
    library_id: Identifier
    amount: Amount


class FineWaived(InboundData):
    """``library.fine.waived``: the library forgives the fine."""

    fine_id: Identifier
    library_id: Identifier


class TrainingCompleted(InboundData):
    """``library.training.completed``: the patron attended a library course."""

    patron_id: Identifier
    library_id: Identifier
    course: Identifier
    completed_at: Timestamp


class DepositSubmitted(InboundData):
    """``thesis.deposit.submitted``: the final work is handed in."""

    deposit_id: Identifier
    student_id: Identifier
    title: Text
    degree_level: DegreeLevel


class DepositAccepted(InboundData):
    """``thesis.deposit.accepted``: the deposit is checked and archived."""

    deposit_id: Identifier
    student_id: Identifier
    repository_id: OptionalText | None = None


class DepositRejected(InboundData):
    """``thesis.deposit.rejected``: the deposit must be corrected and handed in again."""

    deposit_id: Identifier
    student_id: Identifier
    reason: Text


class SnapshotLoan(InboundData):
    """One loan open at the library at the snapshot's ``as_of``."""

    loan_id: Identifier
    item_id: Identifier
    title: Text
    borrowed_at: Timestamp
    due_at: Timestamp
    interlibrary: StrictBool = False
    lost: StrictBool = False


class PatronSnapshot(InboundData):
    """``library.patron.snapshot``: the whole state of a patron at one library, for reconciliation.

    It replaces what the service knows of the patron's loans and fines at
    ``library_id`` as of ``as_of``: loans not listed were returned by then,
    and the fine balance is ``fine_balance``. Events later than ``as_of``
    still apply on top.
    """

    patron_id: Identifier
    library_id: Identifier
    as_of: Timestamp
    open_loans: Annotated[list[SnapshotLoan], Field(max_length=10_000)]
    fine_balance: Amount
    currency: Currency


TrainingCourse = Literal["information-literacy"]
