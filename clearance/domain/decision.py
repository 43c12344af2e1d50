"""The clearance decision: a student's aggregated state and the rules in, a verdict out.

Everything here is pure: no clock, no I/O. The handler gives it the state it
read under the student's lock and acts on the outcome.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from clearance.domain.policy import Rules
from clearance.domain.states import (
    Deposit,
    DepositState,
    Fine,
    Loan,
    LoanStatus,
    PatronSnapshot,
    Payment,
    Training,
)
from schemas.outbound import Reason, ReasonCode, Status


@dataclass(frozen=True, slots=True)
class StudentState:
    """Everything the libraries and the deposit desk said about one student.

    ``loans``, ``fines`` and ``trainings`` are those of every patron record
    linked to the student, at every library (G2).
    """

    loans: tuple[Loan, ...] = ()
    fines: tuple[Fine, ...] = ()
    deposits: tuple[Deposit, ...] = ()
    trainings: tuple[Training, ...] = ()
    snapshots: tuple[PatronSnapshot, ...] = ()
    payments: tuple[Payment, ...] = ()


@dataclass(frozen=True, slots=True)
class Basis:
    """What a clearance rested on; it goes into the certificate."""

    loans_outstanding: int
    fines_outstanding: Decimal
    deposit_id: str | None


@dataclass(frozen=True, slots=True)
class Decision:
    """``cleared`` with its basis, or ``blocked`` with every reason (G4)."""

    status: Status
    reasons: tuple[Reason, ...] = ()
    basis: Basis | None = None

    @property
    def cleared(self) -> bool:
        return self.status is Status.CLEARED


@dataclass(frozen=True, slots=True)
class Outcome:
    """What to do with an application after evaluating it."""

    status: Status
    reasons: tuple[Reason, ...] = ()
    issue: Basis | None = None
    revoke: str | None = None
    notes: tuple[str, ...] = field(default=())


def format_amount(amount: Decimal) -> str:
    """A decimal as the contract writes amounts: ``"15000"``, ``"15000.5"``."""
    text = format(amount.normalize(), "f")
    return text


def _sorted(reasons: Iterable[Reason]) -> tuple[Reason, ...]:
    return tuple(sorted(reasons, key=lambda r: json.dumps(r.model_dump(mode="json"), sort_keys=True)))


def _loan_reason(loan: Loan) -> Reason:
    return Reason(
        code=ReasonCode.LOST_ITEM if loan.status is LoanStatus.LOST else ReasonCode.OUTSTANDING_LOAN,
        library_id=loan.library_id,
        loan_id=loan.loan_id,
        item_id=loan.item_id,
        title=loan.title,
        borrowed_at=loan.borrowed_at,
        due_at=loan.due_at,
        interlibrary=loan.interlibrary or None,
    )


def _covered_reduction(fine: Fine, snapshot: PatronSnapshot, payments: Iterable[Payment]) -> Decimal:
    """How much a fine the snapshot already counted takes off the snapshot's balance since then."""
    cut = snapshot.snapshot_stamp or ""
    mine = [p for p in payments if (p.library_id, p.fine_id) == (fine.library_id, fine.fine_id)]
    before = sum((p.amount for p in mine if p.payment_stamp <= cut), Decimal(0))
    after = sum((p.amount for p in mine if p.payment_stamp > cut), Decimal(0))
    if fine.waived and fine.waived_stamp is not None and fine.waived_stamp > cut:
        return max(Decimal(0), (fine.amount or Decimal(0)) - before)
    return after


def fine_balances(state: StudentState) -> dict[tuple[str, str], Decimal]:
    """Outstanding fines per (currency, library), over every linked patron record.

    A patron snapshot sets the balance at its ``as_of``; fines assessed by then
    are in that balance, so only their later payments and waivers count;
    fines assessed later count in full.
    """
    snapshots = {(s.library_id, s.patron_id): s for s in state.snapshots if s.snapshot_stamp is not None}
    per_patron: dict[tuple[str, str, str], Decimal] = defaultdict(Decimal)
    for snapshot in snapshots.values():
        per_patron[(snapshot.currency or "", snapshot.library_id, snapshot.patron_id)] += snapshot.fine_balance
    for fine in state.fines:
        if not fine.currency or fine.patron_id is None:
            continue
        snapshot = snapshots.get((fine.library_id, fine.patron_id))
        key = (fine.currency, fine.library_id, fine.patron_id)
        if snapshot is None or fine.assessed_stamp is None or fine.assessed_stamp > (snapshot.snapshot_stamp or ""):
            per_patron[key] += fine.outstanding
        else:
            per_patron[key] -= _covered_reduction(fine, snapshot, state.payments)
    per_library: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for (currency, library, _), amount in per_patron.items():
        if amount > 0 and currency:
            per_library[(currency, library)] += amount
    return dict(per_library)


def _fine_reasons(state: StudentState, threshold: Decimal) -> tuple[list[Reason], Decimal]:
    per_library = fine_balances(state)
    per_currency: dict[str, Decimal] = defaultdict(Decimal)
    for (currency, _), amount in per_library.items():
        per_currency[currency] += amount
    total = sum(per_currency.values(), Decimal(0))
    reasons = [
        Reason(code=ReasonCode.UNPAID_FINES, library_id=library, amount=format_amount(amount), currency=currency)
        for (currency, library), amount in per_library.items()
        if per_currency[currency] > threshold
    ]
    return reasons, total


def _deposit_reason(deposits: Iterable[Deposit]) -> tuple[Reason | None, str | None]:
    known = [d for d in deposits if d.state is not None]
    accepted = [d for d in known if d.state is DepositState.ACCEPTED]
    if accepted:
        return None, max(accepted, key=lambda d: d.state_stamp or "").deposit_id
    if not known:
        return Reason(code=ReasonCode.THESIS_NOT_DEPOSITED), None
    latest = max(known, key=lambda d: d.state_stamp or "")
    if latest.state is DepositState.REJECTED:
        return (
            Reason(
                code=ReasonCode.THESIS_REJECTED,
                deposit_id=latest.deposit_id,
                deposit_state="rejected",
                detail=latest.rejection_reason,
            ),
            None,
        )
    return Reason(code=ReasonCode.THESIS_NOT_ACCEPTED, deposit_id=latest.deposit_id, deposit_state="submitted"), None


def decide(state: StudentState, rules: Rules, degree_level: str | None) -> Decision:
    """Whether every rule holds for a student applying at ``degree_level``."""
    reasons: list[Reason] = []
    outstanding = [loan for loan in state.loans if loan.outstanding]
    for loan in outstanding:
        if loan.status is LoanStatus.LOST and rules.lost_items:
            reasons.append(_loan_reason(loan))
        elif loan.status is LoanStatus.OPEN and rules.loans:
            reasons.append(_loan_reason(loan))
    fine_reasons, fines_total = _fine_reasons(state, rules.fine_threshold)
    if rules.fines:
        reasons.extend(fine_reasons)
    deposit_id = None
    if rules.requires_deposit(degree_level):
        deposit_reason, deposit_id = _deposit_reason(state.deposits)
        if deposit_reason is not None:
            reasons.append(deposit_reason)
    if rules.training and not any(t.course == rules.training_course for t in state.trainings):
        reasons.append(Reason(code=ReasonCode.TRAINING_NOT_COMPLETED, detail=rules.training_course))
    if reasons:
        return Decision(status=Status.BLOCKED, reasons=_sorted(reasons))
    return Decision(
        status=Status.CLEARED,
        basis=Basis(loans_outstanding=len(outstanding), fines_outstanding=fines_total, deposit_id=deposit_id),
    )


def loans_after_issuance(state: StudentState, issued_at: datetime) -> tuple[Reason, ...]:
    """Outstanding loans that began after a certificate was issued."""
    return _sorted(
        Reason(
            code=ReasonCode.LOAN_AFTER_ISSUANCE,
            library_id=loan.library_id,
            loan_id=loan.loan_id,
            item_id=loan.item_id,
            title=loan.title,
            borrowed_at=loan.borrowed_at,
            due_at=loan.due_at,
        )
        for loan in state.loans
        if loan.outstanding and loan.borrowed_at is not None and loan.borrowed_at > issued_at
    )


def evaluate(
    *,
    status: Status,
    submitted: bool,
    withdrawn: bool,
    degree_level: str | None,
    issued_at: datetime | None,
    state: StudentState,
    rules: Rules,
) -> Outcome:
    """The next status of an application and what to issue or revoke.

    ``status`` is the application's current status; ``issued_at`` is set
    when it already has a certificate.
    """
    if status in (Status.WITHDRAWN, Status.REVOKED):
        return Outcome(status=status)
    if withdrawn:
        return Outcome(status=Status.WITHDRAWN, revoke="application withdrawn" if issued_at else None)
    if not submitted:
        return Outcome(status=status)
    if issued_at is not None:
        if rules.revoke_on_loan_after_issuance:
            late = loans_after_issuance(state, issued_at)
            if late:
                return Outcome(status=Status.REVOKED, reasons=late, revoke="loan opened after issuance")
        return Outcome(status=Status.CLEARED)
    decision = decide(state, rules, degree_level)
    if decision.cleared:
        return Outcome(status=Status.CLEARED, issue=decision.basis)
    return Outcome(status=Status.BLOCKED, reasons=decision.reasons)
