"""The events the benchmark publishes: a circulation mix and graduation applications, as encoded records.

The circulation mix is stateful (a loan is renewed or returned only after it
was opened, a fine is paid after it was assessed) and spread uniformly over
the patrons of the circulation half of the population, so with a large
store its reads and writes land all over the tables.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from bench.population import CENTRAL, PARTNER, StudentPlan, applicant_students, circulation_students
from clearance.demo.eventfactory import EventFactory, record_of

WIB = timezone(timedelta(hours=7))
START = datetime(2026, 8, 3, 8, 0, tzinfo=WIB)

# (type, weight): roughly a library's day, loans and returns dominating.
MIX: tuple[tuple[str, int], ...] = (
    ("library.loan.opened", 30),
    ("library.loan.returned", 26),
    ("library.loan.renewed", 10),
    ("library.loan.lost", 1),
    ("library.fine.assessed", 10),
    ("library.fine.paid", 10),
    ("library.fine.waived", 1),
    ("library.patron.linked", 8),
    ("library.training.completed", 4),
)


@dataclass(frozen=True, slots=True)
class Record:
    """An encoded Kafka record: key and value as the producer sends them."""

    key: bytes
    value: bytes


@dataclass
class CirculationMix:
    """Draws circulation events over the circulation half of a population of ``size`` students."""

    size: int
    seed: int = 2026
    counts: Counter[str] = field(default_factory=Counter)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)
        self.students = circulation_students(self.size)
        self.libraries: dict[str, EventFactory] = {}
        self.clock = START
        self.open_loans: list[tuple[str, str, str, datetime]] = []  # library, loan, patron, due
        self.open_fines: list[tuple[str, str, str, int]] = []  # library, fine, patron, owed
        self.seq = 0

    def _library(self, library_id: str) -> EventFactory:
        if library_id not in self.libraries:
            self.libraries[library_id] = EventFactory(f"urn:library:{library_id}", lambda: self.clock)
        return self.libraries[library_id]

    def _patron(self) -> tuple[str, str]:
        plan = StudentPlan(self.rng.choice(self.students))
        if plan.faculty_patron is not None and self.rng.random() < 0.5:
            return plan.faculty_library, plan.faculty_patron
        return CENTRAL, plan.central_patron

    def _take(self, items: list) -> tuple:
        # Swap-remove a random element: O(1), order does not matter here.
        i = self.rng.randrange(len(items))
        items[i], items[-1] = items[-1], items[i]
        return items.pop()

    def event(self) -> dict:
        """The next event of the mix."""
        self.clock += timedelta(seconds=self.rng.randrange(1, 30))
        self.seq += 1
        names, weights = zip(*MIX, strict=True)
        kind = self.rng.choices(names, weights=weights)[0]
        if kind in ("library.loan.returned", "library.loan.renewed", "library.loan.lost") and not self.open_loans:
            kind = "library.loan.opened"
        if kind in ("library.fine.paid", "library.fine.waived") and not self.open_fines:
            kind = "library.fine.assessed"
        self.counts[kind] += 1
        now = self.clock
        if kind == "library.loan.opened":
            library_id, patron = self._patron()
            loan_id = f"M{self.seq:09d}"
            due = now + timedelta(days=14)
            self.open_loans.append((library_id, loan_id, patron, due))
            return self._library(library_id).loan_opened(
                library_id, loan_id, patron, item_id=f"B{self.rng.randrange(10**7):07d}", title="Kalkulus Lanjut",
                borrowed_at=now, due_at=due, time=now,
            )  # fmt: skip
        if kind == "library.loan.returned":
            library_id, loan_id, patron, _ = self._take(self.open_loans)
            return self._library(library_id).loan_returned(library_id, loan_id, patron, now, time=now)
        if kind == "library.loan.renewed":
            library_id, loan_id, patron, due = self.open_loans[self.rng.randrange(len(self.open_loans))]
            return self._library(library_id).loan_renewed(
                library_id, loan_id, patron, due + timedelta(days=14), time=now
            )
        if kind == "library.loan.lost":
            library_id, loan_id, patron, _ = self._take(self.open_loans)
            return self._library(library_id).loan_lost(library_id, loan_id, patron, time=now)
        if kind == "library.fine.assessed":
            library_id, patron = self._patron()
            fine_id = f"G{self.seq:09d}"
            owed = self.rng.choice((2000, 5000, 10000, 25000))
            self.open_fines.append((library_id, fine_id, patron, owed))
            return self._library(library_id).fine_assessed(library_id, fine_id, patron, str(owed), time=now)
        if kind == "library.fine.paid":
            library_id, fine_id, patron, owed = self._take(self.open_fines)
            amount = owed if self.rng.random() < 0.7 else owed // 2
            if amount < owed:
                self.open_fines.append((library_id, fine_id, patron, owed - amount))
            return self._library(library_id).fine_paid(library_id, fine_id, patron, str(amount), time=now)
        if kind == "library.fine.waived":
            library_id, fine_id, patron, _ = self._take(self.open_fines)
            return self._library(library_id).fine_waived(library_id, fine_id, patron, time=now)
        if kind == "library.patron.linked":
            plan = StudentPlan(self.rng.choice(self.students))
            # A partner library's card, or (re)linking a known one: both are links the service must fold.
            if self.rng.random() < 0.5:
                return self._library(PARTNER).patron_linked(PARTNER, f"X{plan.index:07d}", plan.student_id, time=now)
            return self._library(CENTRAL).patron_linked(CENTRAL, plan.central_patron, plan.student_id, time=now)
        library_id, patron = self._patron()
        return self._library(library_id).training_completed(library_id, patron, now, time=now)

    def records(self, n: int) -> Iterator[Record]:
        """``n`` encoded records of the mix."""
        for _ in range(n):
            key, value = record_of(self.event())
            yield Record(key, value)


@dataclass(frozen=True, slots=True)
class Application:
    """One application the benchmark publishes and the outcome it must reach."""

    application_id: str
    student_id: str
    expect_cleared: bool
    record: Record


def applications(size: int, start: int, count: int, tag: str) -> list[Application]:
    """``count`` applications of distinct applicant students, from the ``start``-th applicant on."""
    registrar = EventFactory("urn:registrar:bagian-akademik", lambda: START + timedelta(days=100))
    applicants = applicant_students(size)
    found = []
    for index in applicants[start : start + count]:
        plan = StudentPlan(index)
        faculty, _, program, degree = plan.programme
        application_id = f"APP-{tag}-{plan.student_id}"
        event = registrar.application_submitted(
            application_id, plan.student_id, full_name=f"Mahasiswa {index}", faculty=faculty, program=program,
            degree_level=degree, graduation_period="2026-2", ceremony_date="2026-12-12",
        )  # fmt: skip
        key, value = record_of(event)
        found.append(Application(application_id, plan.student_id, not plan.blocked, Record(key, value)))
    return found
