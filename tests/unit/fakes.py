"""An in-memory unit of work: the services' behaviour, tested with no database and no broker.

It keeps what the SQL store keeps, with the same meaning (the store's own tests
show the SQL side); nothing a transaction did is kept unless it commits.
"""

from __future__ import annotations

import copy
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Self, TypeVar

from clearance.domain.decision import StudentState
from clearance.domain.states import (
    Application,
    Deposit,
    Fine,
    IssuedCertificate,
    Loan,
    PatronLink,
    PatronSnapshot,
    Payment,
    TrackedApplication,
    Training,
)
from schemas.outbound import Status

T = TypeVar("T")

KEYS: dict[type, tuple[str, ...]] = {
    Loan: ("library_id", "loan_id"),
    Fine: ("library_id", "fine_id"),
    Deposit: ("deposit_id",),
    PatronLink: ("library_id", "patron_id"),
    PatronSnapshot: ("library_id", "patron_id"),
    Application: ("application_id",),
}


@dataclass
class Store:
    """Everything committed."""

    inbox: dict[tuple[str, str], str] = field(default_factory=dict)
    states: dict[type, dict[tuple, Any]] = field(default_factory=lambda: defaultdict(dict))
    received_at: dict[str, datetime] = field(default_factory=dict)
    payments: dict[tuple[str, str, str], Payment] = field(default_factory=dict)
    trainings: dict[tuple[str, str, str], Training] = field(default_factory=dict)
    tracked: dict[str, tuple[Status, str]] = field(default_factory=dict)
    certificates: dict[str, dict[str, Any]] = field(default_factory=dict)
    counters: dict[str, int] = field(default_factory=dict)
    positions: dict[tuple[str, int], int] = field(default_factory=dict)
    outbox: list[dict[str, Any]] = field(default_factory=list)
    dead_letters: dict[tuple[str, int, int], dict[str, Any]] = field(default_factory=dict)
    # What each transaction did, in order: ("lock", students) and ("write", state type).
    journal: list[tuple[str, Any]] = field(default_factory=list)


class FakeInbox:
    def __init__(self, store: Store) -> None:
        self.store = store

    def seen(self, keys: Sequence[tuple[str, str]]) -> set[tuple[str, str]]:
        return {k for k in keys if k in self.store.inbox}

    def remember(self, entries: Sequence[tuple[str, str, str]], at: datetime) -> None:
        for source, event_id, event_type in entries:
            assert (source, event_id) not in self.store.inbox, "the inbox's primary key refuses a repeat"
            self.store.inbox[(source, event_id)] = event_type

    def claim(self, entries: Sequence[tuple[str, str, str]], at: datetime) -> set[tuple[str, str]]:
        new = {(s, i): t for s, i, t in reversed(entries) if (s, i) not in self.store.inbox}
        self.store.inbox.update(new)
        return set(new)


class FakeStates:
    def __init__(self, store: Store) -> None:
        self.store = store

    def load(self, cls: type[T], keys: Iterable[tuple[Any, ...]]) -> dict[tuple, T]:
        table = self.store.states[cls]
        return {k: table[k] for k in set(keys) if k in table}

    def upsert(self, cls: type, states: Sequence[Any], on_insert: dict[str, Any] | None = None) -> None:
        if states:
            self.store.journal.append(("write", cls.__name__))
        for state in states:
            key = tuple(getattr(state, n) for n in KEYS[cls])
            if cls is Application and key not in self.store.states[cls] and on_insert:
                self.store.received_at[state.application_id] = on_insert["received_at"]
            self.store.states[cls][key] = state

    def add_payments(self, payments: Sequence[Payment]) -> set[tuple[str, str, str]]:
        new = set()
        for p in payments:
            key = (p.library_id, p.fine_id, p.payment_stamp)
            if key not in self.store.payments:
                self.store.payments[key] = p
                new.add(key)
        return new

    def add_trainings(self, trainings: Sequence[Training]) -> None:
        for t in trainings:
            self.store.trainings.setdefault((t.library_id, t.patron_id, t.course), t)

    def loans_of_patron(self, library_id: str, patron_id: str) -> dict[tuple, Loan]:
        return {k: v for k, v in self.store.states[Loan].items() if k[0] == library_id and v.patron_id == patron_id}

    def students_of_patrons(self, patrons: Iterable[tuple[str, str]]) -> dict[tuple[str, str], str]:
        links = self.store.states[PatronLink]
        return {p: links[p].student_id for p in patrons if p in links and links[p].student_id is not None}

    def student_states(self, student_ids: Sequence[str]) -> dict[str, StudentState]:
        result = {}
        for student in student_ids:
            patrons = {k for k, link in self.store.states[PatronLink].items() if link.student_id == student}
            fines = tuple(sorted(
                (f for f in self.store.states[Fine].values() if (f.library_id, f.patron_id) in patrons),
                key=lambda f: (f.library_id, f.fine_id),
            ))
            loans = tuple(sorted(
                (loan for loan in self.store.states[Loan].values()
                 if (loan.library_id, loan.patron_id) in patrons and loan.outstanding),
                key=lambda x: (x.library_id, x.loan_id),
            ))
            deposits = tuple(sorted(
                (d for d in self.store.states[Deposit].values() if d.student_id == student), key=lambda d: d.deposit_id
            ))
            snapshots = tuple(s for k, s in self.store.states[PatronSnapshot].items() if k in patrons)
            fine_keys = {(f.library_id, f.fine_id) for f in fines}
            payments = tuple(p for k, p in self.store.payments.items() if (k[0], k[1]) in fine_keys)
            result[student] = StudentState(
                loans=loans,
                fines=fines,
                deposits=deposits,
                trainings=tuple(t for k, t in self.store.trainings.items() if (k[0], k[1]) in patrons),
                snapshots=snapshots,
                payments=payments if snapshots else (),
            )
        return result


class FakeDecisions:
    def __init__(self, store: Store) -> None:
        self.store = store

    def lock_students(self, student_ids: Iterable[str], skip_locked: bool = False) -> list[str]:
        ordered = sorted(set(student_ids))
        self.store.journal.append(("lock", ordered))
        return ordered

    def live_applications(self, student_ids: Sequence[str]) -> dict[str, list[TrackedApplication]]:
        found: dict[str, list[TrackedApplication]] = {}
        for (application_id,), application in sorted(self.store.states[Application].items()):
            status, reasons = self.store.tracked.get(application_id, (Status.PENDING, "[]"))
            if application.student_id in student_ids and status not in (Status.WITHDRAWN, Status.REVOKED):
                received = self.store.received_at.get(application_id)
                found.setdefault(application.student_id, []).append(
                    TrackedApplication(application, status, reasons, received)
                )
        return found

    def certificates_for(self, application_ids: Sequence[str]) -> dict[str, IssuedCertificate]:
        found = {}
        for row in self.store.certificates.values():
            if row["application_id"] in application_ids:
                found[row["application_id"]] = IssuedCertificate(
                    row["number"], row["application_id"], row["student_id"], row["issued_at"], "urn:library:central",
                    row.get("revoked_at"),
                )  # fmt: skip
        return found

    def take_values(self, counter: str, count: int) -> int:
        last = self.store.counters.get(counter, 0) + count
        self.store.counters[counter] = last
        return last - count + 1

    def record_decision(self, application_id: str, status: Status, reasons: str, policy_digest: str,
                        at: datetime) -> None:  # fmt: skip
        self.store.tracked[application_id] = (status, reasons)

    def record_stale_sources(self, application_id: str, sources: Sequence[str]) -> None:
        return None

    def add_certificate(self, values: Mapping[str, Any]) -> None:
        assert all(c["application_id"] != values["application_id"] for c in self.store.certificates.values()), (
            "the database allows one certificate per application"
        )
        self.store.certificates[values["number"]] = dict(values)

    def revoke_certificate(self, number: str, at: datetime, reason: str) -> None:
        self.store.certificates[number].update(revoked_at=at, revocation_reason=reason)

    def pending_students(self, limit: int) -> list[str]:
        students = {
            a.student_id
            for (application_id,), a in self.store.states[Application].items()
            if a.submitted and self.store.tracked.get(application_id, (Status.PENDING,))[0] is Status.PENDING
        }
        return sorted(students)[:limit]

    def pending_since(self) -> datetime | None:
        pending = [
            self.store.received_at[a]
            for (a,) in self.store.states[Application]
            if self.store.tracked.get(a, (Status.PENDING,))[0] is Status.PENDING and a in self.store.received_at
        ]
        return min(pending, default=None)


class FakePositions:
    def __init__(self, store: Store) -> None:
        self.store = store

    def save(self, positions: Mapping[tuple[str, int], int], at: datetime,
             topic_ids: Mapping[str, str | None] | None = None) -> None:  # fmt: skip
        for key, offset in positions.items():
            self.store.positions[key] = max(offset, self.store.positions.get(key, 0))

    def applied(self, topics: Iterable[str], topic_ids: Mapping[str, str | None] | None = None) -> dict:
        wanted = set(topics)
        return {k: v for k, v in self.store.positions.items() if k[0] in wanted}


class FakeOutbox:
    def __init__(self, store: Store) -> None:
        self.store = store

    def add(self, values: Mapping[str, Any]) -> None:
        self.store.outbox.append(dict(values))

    def add_dead_letter(self, values: Mapping[str, Any]) -> int | None:
        origin = (values["origin_topic"], values["origin_partition"], values["origin_offset"])
        if origin in self.store.dead_letters:
            return None
        self.store.dead_letters[origin] = dict(values)
        return len(self.store.dead_letters)


class FakeUnitOfWork:
    """A unit of work over a :class:`Store`: a copy while open, the store itself once committed."""

    def __init__(self, store: Store | None = None) -> None:
        self.committed = store or Store()

    def __enter__(self) -> Self:
        self._work = copy.deepcopy(self.committed)
        self.inbox = FakeInbox(self._work)
        self.states = FakeStates(self._work)
        self.decisions = FakeDecisions(self._work)
        self.positions = FakePositions(self._work)
        self.outbox = FakeOutbox(self._work)
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def commit(self) -> None:
        self.committed.__dict__.update(copy.deepcopy(self._work).__dict__)

