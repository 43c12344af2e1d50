"""Ingest: a batch of validated events into the working set of states it touches.

The inbox drops events applied before; the rest are folded, family by family,
into states read with one query per table and written back with one upsert
per table. What the batch touched (students, and patrons whose student the
store knows) is what the decision step re-evaluates.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

import structlog

from clearance.domain.folds import (
    apply_application,
    apply_deposit,
    apply_fine,
    apply_link,
    apply_loan,
    apply_patron_snapshot,
    event_stamp,
    reconcile_loan,
)
from clearance.domain.states import Application, Deposit, Fine, Loan, PatronLink, PatronSnapshot, Payment, Training
from clearance.services.results import Triggers
from clearance.services.unit_of_work import UnitOfWork
from schemas import inbound
from schemas.registry import InboundEvent

log = structlog.get_logger("clearance.decisions")


def drop_seen(uow: UnitOfWork, events: Sequence[InboundEvent], now: datetime) -> tuple[list[InboundEvent], int]:
    """The events not applied before (G1), remembered as applied now; and how many were dropped."""
    # Recording and asking in one step: on PostgreSQL one statement instead of a read and an insert.
    claimed = uow.inbox.claim([(e.envelope.source, e.envelope.id, e.type) for e in events], now)
    fresh: list[InboundEvent] = []
    for event in events:
        if event.key not in claimed:
            log.info("duplicate_ignored", event_id=event.envelope.id, source=event.envelope.source, type=event.type)
            continue
        claimed.discard(event.key)  # a second copy within the batch is a duplicate too
        fresh.append(event)
    return fresh, len(events) - len(fresh)


@dataclass(frozen=True, slots=True)
class Family:
    """The events of one kind of entity: the state they fold into and the data fields that key it."""

    state: type
    key: tuple[str, ...]


LOANS = Family(Loan, ("library_id", "loan_id"))
FINES = Family(Fine, ("library_id", "fine_id"))
DEPOSITS = Family(Deposit, ("deposit_id",))
LINKS = Family(PatronLink, ("library_id", "patron_id"))
SNAPSHOTS = Family(PatronSnapshot, ("library_id", "patron_id"))
APPLICATIONS = Family(Application, ("application_id",))


class WorkingSet:
    """The states one batch reads and changes, and whom they concern."""

    def __init__(self, uow: UnitOfWork, events: Sequence[InboundEvent]) -> None:
        self.uow = uow
        self.states: dict[Family, dict[tuple, Any]] = {}
        for family in (LOANS, FINES, DEPOSITS, LINKS, SNAPSHOTS, APPLICATIONS):
            keys = [_key(e.data, family) for e in events if FOLDS[type(e.data)][0] is family]
            self.states[family] = uow.states.load(family.state, keys)
        self.dirty: dict[Family, set[tuple]] = defaultdict(set)
        # Payments are kept by their own key: one that was counted before (its inbox id may have
        # been pruned since) is not counted again.
        payments = [
            Payment(e.data.library_id, e.data.fine_id, event_stamp(e.envelope), Decimal(e.data.amount))
            for e in events
            if isinstance(e.data, inbound.FinePaid)
        ]
        self.new_payments = uow.states.add_payments(payments)
        self.students: dict[str, Triggers] = defaultdict(Triggers)
        self.patrons: dict[tuple[str, str], Triggers] = defaultdict(Triggers)
        self.trainings: list[Training] = []

    def get(self, family: Family, key: tuple) -> Any:
        """The state under ``key``, or None where neither the store nor the batch has it."""
        return self.states[family].get(key)

    def put(self, family: Family, key: tuple, state: Any) -> None:
        """Keep ``state`` under ``key``; it is written back only if it changed."""
        store = self.states[family]
        if store.get(key) != state:
            store[key] = state
            self.dirty[family].add(key)

    def apply(self, event: InboundEvent) -> None:
        """Fold one event into the state of its entity."""
        family, fold = FOLDS[type(event.data)]
        fold(self, event, _key(event.data, family))

    # -- one fold per family ------------------------------------------------------

    def fold_loan(self, event: InboundEvent, key: tuple) -> None:
        loan = apply_loan(self.get(LOANS, key) or Loan(*key), event.envelope, event.data)
        self.put(LOANS, key, loan)
        if loan.patron_id is not None:
            self.patrons[(loan.library_id, loan.patron_id)].add(event.envelope.id, event.envelope.time)

    def fold_fine(self, event: InboundEvent, key: tuple) -> None:
        if isinstance(event.data, inbound.FinePaid) and (*key, event_stamp(event.envelope)) not in self.new_payments:
            return
        fine = apply_fine(self.get(FINES, key) or Fine(*key), event.envelope, event.data)
        self.put(FINES, key, fine)
        if fine.patron_id is not None:
            self.patrons[(fine.library_id, fine.patron_id)].add(event.envelope.id, event.envelope.time)

    def fold_link(self, event: InboundEvent, key: tuple) -> None:
        before = self.get(LINKS, key) or PatronLink(*key)
        after = apply_link(before, event.envelope, event.data)  # type: ignore[arg-type]
        self.put(LINKS, key, after)
        for student in {before.student_id, after.student_id} - {None}:
            self.students[student].add(event.envelope.id, event.envelope.time)  # type: ignore[index]

    def fold_training(self, event: InboundEvent, key: tuple) -> None:
        data = event.data
        assert isinstance(data, inbound.TrainingCompleted)
        self.trainings.append(Training(data.library_id, data.patron_id, data.course, data.completed_at))
        self.patrons[(data.library_id, data.patron_id)].add(event.envelope.id, event.envelope.time)

    def fold_deposit(self, event: InboundEvent, key: tuple) -> None:
        data = event.data
        current = self.get(DEPOSITS, key) or Deposit(data.deposit_id, data.student_id)  # type: ignore[union-attr]
        deposit = apply_deposit(current, event.envelope, data)
        self.put(DEPOSITS, key, deposit)
        self.students[deposit.student_id].add(event.envelope.id, event.envelope.time)

    def fold_application(self, event: InboundEvent, key: tuple) -> None:
        data = event.data
        current = self.get(APPLICATIONS, key) or Application(data.application_id, data.student_id)  # type: ignore[union-attr]
        application = apply_application(current, event.envelope, data)
        self.put(APPLICATIONS, key, application)
        self.students[application.student_id].add(event.envelope.id, event.envelope.time)

    def fold_snapshot(self, event: InboundEvent, key: tuple) -> None:
        data = event.data
        assert isinstance(data, inbound.PatronSnapshot)
        before = self.get(SNAPSHOTS, key) or PatronSnapshot(*key)
        snapshot = apply_patron_snapshot(before, event.envelope, data)
        self.patrons[key].add(event.envelope.id, event.envelope.time)
        if snapshot == before:
            return  # an older statement than the one already applied
        self.put(SNAPSHOTS, key, snapshot)
        # The patron's loans: those stored, those this batch changed, and those the snapshot lists.
        loans = self.states[LOANS]
        for loan_key, loan in self.uow.states.loans_of_patron(*key).items():
            loans.setdefault(loan_key, loan)
        listed = {loan.loan_id: loan for loan in data.open_loans}
        listed_keys = [(data.library_id, loan_id) for loan_id in listed]
        for loan_key, loan in self.uow.states.load(Loan, listed_keys).items():
            loans.setdefault(loan_key, loan)
        mine = {k for k, loan in loans.items() if k[0] == data.library_id and loan.patron_id == data.patron_id}
        for loan_key in sorted(mine | set(listed_keys)):
            loan = loans.get(loan_key) or Loan(*loan_key)
            self.put(LOANS, loan_key, reconcile_loan(loan, snapshot, listed.get(loan_key[1])))

    # -- after the folds ------------------------------------------------------------

    def reconcile_touched_loans(self) -> None:
        """Re-apply patron snapshots to loans this batch changed, so a late, older event cannot undo them."""
        loans, snapshots = self.states[LOANS], self.states[SNAPSHOTS]
        touched = [k for k in self.dirty[LOANS] if loans[k].patron_id is not None]
        patrons = {(k[0], loans[k].patron_id) for k in touched}
        missing = [p for p in patrons if p not in snapshots]
        snapshots.update(self.uow.states.load(PatronSnapshot, missing))
        for key in touched:
            loan = loans[key]
            snapshot = snapshots.get((loan.library_id, loan.patron_id))
            if snapshot is not None:
                self.put(LOANS, key, reconcile_loan(loan, snapshot, snapshot.entry(loan.loan_id)))

    def write(self, now: datetime) -> None:
        """Write every changed state back: one upsert per table."""
        for family in (LOANS, FINES, DEPOSITS, LINKS, SNAPSHOTS):
            store = self.states[family]
            self.uow.states.upsert(family.state, [store[k] for k in sorted(self.dirty[family])])
        applications = self.states[APPLICATIONS]
        changed = [applications[k] for k in sorted(self.dirty[APPLICATIONS])]
        self.uow.states.upsert(Application, changed, on_insert={"received_at": now})
        self.uow.states.add_trainings(self.trainings)

    def touched_students(self) -> dict[str, Triggers]:
        """Every student whose state the batch changed, with the events that did.

        Reads only: the caller locks these students before anything is written,
        so no write of this batch waits on a lock holder that waits on it (G10).
        """
        links = self.states[LINKS]
        linked = {p: links[p].student_id for p in self.patrons if p in links and links[p].student_id is not None}
        linked.update(self.uow.states.students_of_patrons(p for p in self.patrons if p not in links))
        for patron, student in linked.items():
            self.students[student].extend(self.patrons[patron])
        return self.students


def _key(data: Any, family: Family) -> tuple:
    return tuple(getattr(data, name) for name in family.key)


_Fold = Callable[[WorkingSet, InboundEvent, tuple], None]
_TRAININGS = Family(Training, ("library_id", "patron_id"))

# Every inbound data type, the family it belongs to and its fold: adding an event type is one entry.
FOLDS: dict[type, tuple[Family, _Fold]] = {
    inbound.LoanOpened: (LOANS, WorkingSet.fold_loan),
    inbound.LoanRenewed: (LOANS, WorkingSet.fold_loan),
    inbound.LoanReturned: (LOANS, WorkingSet.fold_loan),
    inbound.LoanLost: (LOANS, WorkingSet.fold_loan),
    inbound.FineAssessed: (FINES, WorkingSet.fold_fine),
    inbound.FinePaid: (FINES, WorkingSet.fold_fine),
    inbound.FineWaived: (FINES, WorkingSet.fold_fine),
    inbound.PatronLinked: (LINKS, WorkingSet.fold_link),
    inbound.PatronSnapshot: (SNAPSHOTS, WorkingSet.fold_snapshot),
    inbound.TrainingCompleted: (_TRAININGS, WorkingSet.fold_training),
    inbound.DepositSubmitted: (DEPOSITS, WorkingSet.fold_deposit),
    inbound.DepositAccepted: (DEPOSITS, WorkingSet.fold_deposit),
    inbound.DepositRejected: (DEPOSITS, WorkingSet.fold_deposit),
    inbound.ApplicationSubmitted: (APPLICATIONS, WorkingSet.fold_application),
    inbound.ApplicationWithdrawn: (APPLICATIONS, WorkingSet.fold_application),
}
