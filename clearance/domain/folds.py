"""Pure folds of inbound events onto the state of one entity.

Every fact about a loan, fine, deposit, patron link or application is a
register that a later event (by :mod:`clearance.domain.ordering`) overwrites
and an earlier one does not, so any permutation of an entity's events gives
the same state (G5). Fine payments are the one accumulating fact: they add
up, which is commutative; duplicates never reach here because the inbox drops
them first.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime
from decimal import Decimal

from clearance.domain.ordering import is_later, stamp
from clearance.domain.states import (
    Application,
    Deposit,
    DepositState,
    Fine,
    Loan,
    LoanStatus,
    PatronLink,
    PatronSnapshot,
)
from schemas import inbound
from schemas.envelope import CloudEvent

# Tie-break ranks for events of one entity that share time and sequence.
_RANK = {
    "library.loan.opened": 0,
    "library.loan.renewed": 1,
    "library.loan.lost": 2,
    "library.loan.returned": 3,
    "library.fine.assessed": 0,
    "library.fine.paid": 1,
    "library.fine.waived": 2,
    "thesis.deposit.submitted": 0,
    "thesis.deposit.rejected": 1,
    "thesis.deposit.accepted": 2,
    "graduation.application.submitted": 0,
    "graduation.application.withdrawn": 1,
    "library.patron.linked": 0,
    "library.training.completed": 0,
}


def event_stamp(envelope: CloudEvent) -> str:
    """The stamp that orders ``envelope`` among the events of its entity."""
    return stamp(envelope.time, envelope.sequence, _RANK.get(envelope.type, 9), envelope.source, envelope.id)


def apply_loan(loan: Loan, envelope: CloudEvent, data: inbound.InboundData) -> Loan:
    """Fold one loan event into the loan's state."""
    s = event_stamp(envelope)
    if isinstance(data, inbound.LoanOpened):
        if is_later(s, loan.opened_stamp):
            loan = replace(
                loan,
                patron_id=data.patron_id,
                item_id=data.item_id,
                title=data.title,
                borrowed_at=data.borrowed_at,
                interlibrary=data.interlibrary,
                opened_stamp=s,
            )
        loan = _set_due(loan, data.due_at, s)
        return _set_status(loan, LoanStatus.OPEN, s)
    if isinstance(data, inbound.LoanRenewed):
        return _set_due(loan, data.due_at, s)
    if isinstance(data, inbound.LoanLost):
        return _set_status(loan, LoanStatus.LOST, s)
    if isinstance(data, inbound.LoanReturned):
        return _set_status(loan, LoanStatus.RETURNED, s, returned_at=data.returned_at)
    raise TypeError(f"not a loan event: {type(data).__name__}")


def _set_due(loan: Loan, due_at: datetime, s: str) -> Loan:
    return replace(loan, due_at=due_at, due_stamp=s) if is_later(s, loan.due_stamp) else loan


def _set_status(loan: Loan, status: LoanStatus, s: str, returned_at: datetime | None = None) -> Loan:
    if not is_later(s, loan.status_stamp):
        return loan
    return replace(loan, status=status, status_stamp=s, returned_at=returned_at)


def apply_fine(fine: Fine, envelope: CloudEvent, data: inbound.InboundData) -> Fine:
    """Fold one fine event into the fine's state."""
    if isinstance(data, inbound.FineAssessed):
        s = event_stamp(envelope)
        if not is_later(s, fine.assessed_stamp):
            return fine
        return replace(
            fine,
            patron_id=data.patron_id,
            amount=Decimal(data.amount),
            currency=data.currency,
            reason=data.reason,
            loan_id=data.loan_id,
            assessed_stamp=s,
        )
    if isinstance(data, inbound.FinePaid):
        return replace(fine, paid=fine.paid + Decimal(data.amount))
    if isinstance(data, inbound.FineWaived):
        s = event_stamp(envelope)
        # Forgiven from the first waiver on; a repeated waiver changes nothing.
        first = s if fine.waived_stamp is None or s < fine.waived_stamp else fine.waived_stamp
        return replace(fine, waived=True, waived_stamp=first)
    raise TypeError(f"not a fine event: {type(data).__name__}")


def apply_patron_snapshot(
    snapshot: PatronSnapshot, envelope: CloudEvent, data: inbound.PatronSnapshot
) -> PatronSnapshot:
    """Fold a snapshot event: the latest statement of the patron at that library wins."""
    s = stamp(data.as_of, envelope.sequence, 0, envelope.source, envelope.id)
    if not is_later(s, snapshot.snapshot_stamp):
        return snapshot
    return replace(
        snapshot,
        snapshot_stamp=s,
        as_of=data.as_of,
        open_loans=json.dumps(
            [loan.model_dump(mode="json") for loan in sorted(data.open_loans, key=lambda x: x.loan_id)]
        ),
        fine_balance=Decimal(data.fine_balance),
        currency=data.currency,
    )


def reconcile_loan(loan: Loan, snapshot: PatronSnapshot, entry: inbound.SnapshotLoan | None = None) -> Loan:
    """What a patron snapshot says of one of the patron's loans at that library.

    The snapshot acts as a fact stamped at its ``as_of``: a listed loan is
    open (or lost) with the listed details, an unlisted one was returned.
    Facts stamped later still win, so events after ``as_of`` apply on top and
    earlier ones, however late they arrive, do not undo the snapshot.
    """
    s = snapshot.snapshot_stamp
    if s is None or loan.library_id != snapshot.library_id:
        return loan
    if entry is not None:
        if is_later(s, loan.opened_stamp):
            loan = replace(
                loan,
                patron_id=snapshot.patron_id,
                item_id=entry.item_id,
                title=entry.title,
                borrowed_at=entry.borrowed_at,
                interlibrary=entry.interlibrary,
                opened_stamp=s,
            )
        loan = _set_due(loan, entry.due_at, s)
        return _set_status(loan, LoanStatus.LOST if entry.lost else LoanStatus.OPEN, s)
    if loan.patron_id != snapshot.patron_id or snapshot.entry(loan.loan_id) is not None:
        return loan
    return _set_status(loan, LoanStatus.RETURNED, s, returned_at=loan.returned_at)


def apply_deposit(deposit: Deposit, envelope: CloudEvent, data: inbound.InboundData) -> Deposit:
    """Fold one deposit event into the deposit's state."""
    s = event_stamp(envelope)
    if isinstance(data, inbound.DepositSubmitted):
        if is_later(s, deposit.submitted_stamp):
            deposit = replace(deposit, title=data.title, degree_level=data.degree_level.value, submitted_stamp=s)
        return _set_deposit_state(deposit, DepositState.SUBMITTED, s)
    if isinstance(data, inbound.DepositAccepted):
        return _set_deposit_state(deposit, DepositState.ACCEPTED, s, repository_id=data.repository_id)
    if isinstance(data, inbound.DepositRejected):
        return _set_deposit_state(deposit, DepositState.REJECTED, s, rejection_reason=data.reason)
    raise TypeError(f"not a deposit event: {type(data).__name__}")


def _set_deposit_state(
    deposit: Deposit,
    state: DepositState,
    s: str,
    repository_id: str | None = None,
    rejection_reason: str | None = None,
) -> Deposit:
    if not is_later(s, deposit.state_stamp):
        return deposit
    return replace(
        deposit,
        state=state,
        state_stamp=s,
        repository_id=repository_id if state is DepositState.ACCEPTED else deposit.repository_id,
        rejection_reason=rejection_reason if state is DepositState.REJECTED else None,
    )


def apply_link(link: PatronLink, envelope: CloudEvent, data: inbound.PatronLinked) -> PatronLink:
    """Fold a patron-link event: the latest link of a patron record wins."""
    s = event_stamp(envelope)
    if not is_later(s, link.link_stamp):
        return link
    return replace(link, student_id=data.student_id, link_stamp=s)


def apply_application(application: Application, envelope: CloudEvent, data: inbound.InboundData) -> Application:
    """Fold an application event. Withdrawal is final, whatever order the events come in (G9)."""
    if isinstance(data, inbound.ApplicationSubmitted):
        s = event_stamp(envelope)
        if not is_later(s, application.submitted_stamp):
            return application
        return replace(
            application,
            full_name=data.full_name,
            faculty=data.faculty,
            program=data.program,
            degree_level=data.degree_level.value,
            graduation_period=data.graduation_period,
            ceremony_date=data.ceremony_date.isoformat() if data.ceremony_date else None,
            submitted_at=envelope.time,
            submitted_stamp=s,
        )
    if isinstance(data, inbound.ApplicationWithdrawn):
        s = event_stamp(envelope)
        if application.withdrawn and not is_later(s, application.withdrawn_stamp):
            return application
        return replace(
            application, withdrawn=True, withdrawn_reason=data.reason, withdrawn_at=envelope.time, withdrawn_stamp=s
        )
    raise TypeError(f"not an application event: {type(data).__name__}")
