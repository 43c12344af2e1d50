"""Projection states: loans, fines, payments, deposits, links, snapshots, trainings, applications.

Rows convert to and from the frozen dataclasses of :mod:`clearance.domain.states`
field by field; the services never see a row.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import fields
from typing import Any, TypeVar

from sqlalchemy import select

from clearance.domain.decision import StudentState
from clearance.domain.states import (
    Application,
    Deposit,
    Fine,
    Loan,
    LoanStatus,
    PatronLink,
    PatronSnapshot,
    Payment,
    Training,
)
from clearance.store.dialect import Dialect
from clearance.store.tables import (
    ApplicationRow,
    Base,
    DepositRow,
    FineRow,
    LoanRow,
    PatronLinkRow,
    PatronSnapshotRow,
    PaymentRow,
    TrainingRow,
)

T = TypeVar("T")

# The table each state is kept in.
TABLES: dict[type, type[Base]] = {
    Loan: LoanRow,
    Fine: FineRow,
    Deposit: DepositRow,
    PatronLink: PatronLinkRow,
    PatronSnapshot: PatronSnapshotRow,
    Application: ApplicationRow,
}


def to_domain(row: Any, cls: type[T]) -> T:
    """The dataclass ``cls`` with the values of ``row``."""
    return cls(**{f.name: getattr(row, f.name) for f in fields(cls)})  # type: ignore[arg-type]


class SqlStates:
    """Projection states in one transaction: read by key, written back with one upsert per table."""

    def __init__(self, dialect: Dialect) -> None:
        self.dialect = dialect
        self.session = dialect.session

    def load(self, cls: type[T], keys: Iterable[tuple[Any, ...]]) -> dict[tuple, T]:
        """States of ``cls`` by primary key, read straight into the dataclass."""
        table = TABLES[cls].__table__
        primary = list(table.primary_key.columns)
        columns = [table.c[f.name] for f in fields(cls)]  # type: ignore[arg-type]
        loaded: dict[tuple, T] = {}
        for stmt in self.dialect.keyed(select(*columns), primary, keys):
            for row in self.session.execute(stmt):
                state = cls(**row._mapping)
                loaded[tuple(getattr(state, c.name) for c in primary)] = state
        return loaded

    def upsert(self, cls: type, states: Sequence[Any], on_insert: dict[str, Any] | None = None) -> None:
        """Write states back in one statement: insert, or update every state column.

        ``on_insert`` columns are set only when the row is new (e.g. when an application arrived).
        """
        if not states:
            return
        table = TABLES[cls].__table__
        names = [f.name for f in fields(cls)]
        primary = [c.name for c in table.primary_key.columns]
        rows = [{**{n: getattr(state, n) for n in names}, **(on_insert or {})} for state in states]
        stmt = self.dialect.insert(table)
        stmt = stmt.on_conflict_do_update(
            index_elements=primary, set_={n: stmt.excluded[n] for n in names if n not in primary}
        )
        # executemany: psycopg pipelines the rows, SQLite runs them in one call.
        self.session.execute(stmt, rows)

    def add_payments(self, payments: Sequence[Payment]) -> set[tuple[str, str, str]]:
        """Record payments in one statement; return the (library, fine, stamp) of those that were new."""
        if not payments:
            return set()
        table = PaymentRow.__table__
        rows = [
            {"library_id": p.library_id, "fine_id": p.fine_id, "payment_stamp": p.payment_stamp, "amount": p.amount}
            for p in payments
        ]
        stmt = self.dialect.insert(table).on_conflict_do_nothing()
        # RETURNING, not rowcount: psycopg reports -1 for a skipped ON CONFLICT insert.
        stmt = stmt.returning(table.c.library_id, table.c.fine_id, table.c.payment_stamp)
        return {(lib, fine, stamp) for lib, fine, stamp in self.session.execute(stmt, rows)}

    def add_trainings(self, trainings: Sequence[Training]) -> None:
        """Record completed trainings in one statement; one already recorded stays as it is."""
        if trainings:
            rows = [{f.name: getattr(t, f.name) for f in fields(Training)} for t in trainings]
            self.session.execute(self.dialect.insert(TrainingRow).on_conflict_do_nothing(), rows)

    def loans_of_patron(self, library_id: str, patron_id: str) -> dict[tuple, Loan]:
        """Every loan the store knows of one patron at one library."""
        columns = [LoanRow.__table__.c[f.name] for f in fields(Loan)]
        rows = self.session.execute(
            select(*columns).where(LoanRow.library_id == library_id, LoanRow.patron_id == patron_id)
        )
        return {(r.library_id, r.loan_id): Loan(**r._mapping) for r in rows}

    def students_of_patrons(self, patrons: Iterable[tuple[str, str]]) -> dict[tuple[str, str], str]:
        """The student linked to each (library_id, patron_id), where one is."""
        links = self.load(PatronLink, patrons)
        return {key: link.student_id for key, link in links.items() if link.student_id is not None}

    def student_states(self, student_ids: Sequence[str]) -> dict[str, StudentState]:
        """The state of many students over all their linked patron records (G2): one query per table."""
        parts: dict[str, dict[str, list[Any]]] = {
            s: {"loans": [], "fines": [], "deposits": [], "trainings": [], "snapshots": [], "payments": []}
            for s in student_ids
        }
        link = PatronLinkRow

        def joined(model: Any) -> Any:
            return (link.library_id == model.library_id) & (link.patron_id == model.patron_id)

        for chunk in self.dialect.groups(list(student_ids)):
            among = self.dialect.among(link.student_id, chunk)
            queries = {
                "loans": select(LoanRow, link.student_id)
                .join(link, joined(LoanRow))
                .where(among, LoanRow.status.in_([LoanStatus.OPEN, LoanStatus.LOST])),
                "fines": select(FineRow, link.student_id).join(link, joined(FineRow)).where(among),
                "trainings": select(TrainingRow, link.student_id).join(link, joined(TrainingRow)).where(among),
                "snapshots": select(PatronSnapshotRow, link.student_id)
                .join(link, joined(PatronSnapshotRow))
                .where(among),
                "deposits": select(DepositRow, DepositRow.student_id).where(
                    self.dialect.among(DepositRow.student_id, chunk)
                ),
            }
            for name, query in queries.items():
                for row, student in self.session.execute(query):
                    parts[student][name].append(row)
            # Payments matter only against a snapshot's balance (reconciliation).
            with_snapshots = [s for s in chunk if parts[s]["snapshots"]]
            if with_snapshots:
                payments = (
                    select(PaymentRow, link.student_id)
                    .join(
                        FineRow, (FineRow.library_id == PaymentRow.library_id) & (FineRow.fine_id == PaymentRow.fine_id)
                    )
                    .join(link, joined(FineRow))
                    .where(self.dialect.among(link.student_id, with_snapshots))
                )
                for row, student in self.session.execute(payments):
                    parts[student]["payments"].append(row)
        return {student: _state(p) for student, p in parts.items()}


def _state(parts: dict[str, list[Any]]) -> StudentState:
    return StudentState(
        loans=tuple(sorted((to_domain(r, Loan) for r in parts["loans"]), key=lambda x: (x.library_id, x.loan_id))),
        fines=tuple(sorted((to_domain(r, Fine) for r in parts["fines"]), key=lambda x: (x.library_id, x.fine_id))),
        deposits=tuple(sorted((to_domain(r, Deposit) for r in parts["deposits"]), key=lambda x: x.deposit_id)),
        trainings=tuple(to_domain(r, Training) for r in parts["trainings"]),
        snapshots=tuple(to_domain(r, PatronSnapshot) for r in parts["snapshots"]),
        payments=tuple(to_domain(r, Payment) for r in parts["payments"]),
    )
