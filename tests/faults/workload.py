"""A workload whose every outcome is known, and the invariants checked after each fault scenario."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from harness import Harness
from sqlalchemy import func, select
from timeline import T0

from clearance.demo.eventfactory import EventFactory
from clearance.store.engine import make_engine, make_session_factory
from clearance.store.tables import ApplicationRow, CertificateRow, DeadLetterRow, InboxRow, OutboxRow
from clearance.store.unit_of_work import SqlUnitOfWork

registrar = EventFactory("urn:registrar:faults", lambda: T0)
central = EventFactory("urn:library:central", lambda: T0)
desk = EventFactory("urn:repository:deposit-desk", lambda: T0)


@dataclass
class Workload:
    """Events for ``students`` students; about 70% clear, the rest stay blocked (a book or half a fine)."""

    tag: str
    students: int
    events: list[dict[str, Any]] = field(default_factory=list)
    applications: list[dict[str, Any]] = field(default_factory=list)
    cleared: set[str] = field(default_factory=set)
    blocked_by_fine: dict[str, str] = field(default_factory=dict)
    blocked_by_loan: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        for i in range(self.students):
            student, patron, app = f"{self.tag}S{i:04d}", f"{self.tag}P{i:04d}", f"{self.tag}A{i:04d}"
            fate = i % 10
            self.events.append(central.patron_linked("central", patron, student))
            borrowed = T0 - timedelta(days=30)
            self.events.append(
                central.loan_opened("central", f"{self.tag}L{i}", patron, item_id="B1", title="Kalkulus",
                                    borrowed_at=borrowed, due_at=borrowed + timedelta(days=14), time=borrowed)
            )  # fmt: skip
            if fate != 7:
                self.events.append(central.loan_returned("central", f"{self.tag}L{i}", patron, T0 - timedelta(days=2),
                                                         time=T0 - timedelta(days=2)))  # fmt: skip
            fine = f"{self.tag}F{i}"
            self.events.append(central.fine_assessed("central", fine, patron, "20000", time=T0 - timedelta(days=9)))
            self.events.append(central.fine_paid("central", fine, patron, "10000", time=T0 - timedelta(days=8)))
            if fate not in (8, 9):
                self.events.append(central.fine_paid("central", fine, patron, "10000", time=T0 - timedelta(days=7)))
            self.events.append(
                desk.deposit_submitted(f"{self.tag}D{i}", student, "Skripsi", time=T0 - timedelta(days=6))
            )
            self.events.append(desk.deposit_accepted(f"{self.tag}D{i}", student, time=T0 - timedelta(days=5)))
            self.applications.append(
                registrar.application_submitted(app, student, full_name=f"Mahasiswa {i}", faculty="MIPA",
                                                program="Fisika", time=T0 - timedelta(days=1))
            )  # fmt: skip
            if fate == 7:
                self.blocked_by_loan.add(app)
            elif fate in (8, 9):
                self.blocked_by_fine[app] = "10000"
            else:
                self.cleared.add(app)

    @property
    def all_events(self) -> list[dict[str, Any]]:
        return self.events + self.applications

    def expected(self) -> dict[str, str]:
        """The status every application must end in."""
        outcome = dict.fromkeys(self.cleared, "cleared")
        outcome.update(dict.fromkeys([*self.blocked_by_fine, *self.blocked_by_loan], "blocked"))
        return outcome

    def unsettled(self, harness: Harness) -> dict[str, tuple[str, str | None]]:
        """Applications whose last published status is not the expected one: expected, published."""
        return {app: (want, got) for app, want in self.expected().items() if (got := harness.status(app)) != want}

    def settled(self, harness: Harness) -> bool:
        """Every application has reached its expected published status."""
        return not self.unsettled(harness)

    def wait_settled(self, harness: Harness, timeout: float) -> None:
        """Wait for every expected outcome; on timeout, say which applications are not there and why."""
        try:
            harness.wait_for(lambda _: self.settled(harness), timeout=timeout, what="every expected outcome")
        except AssertionError as exc:
            missing = self.unsettled(harness)
            sample = dict(sorted(missing.items())[:10])
            raise AssertionError(f"{exc}\n{len(missing)} unsettled (expected, published), e.g. {sample}") from None


def check_database(workload: Workload, database_url: str) -> int:
    """In the database: one certificate per cleared application, none for blocked, every event applied once."""
    engine = make_engine(database_url)
    try:
        with SqlUnitOfWork(make_session_factory(engine)) as uow:
            s = uow.session
            certificates = Counter(s.scalars(select(CertificateRow.application_id)))
            statuses = {
                a.application_id: (a.status.value, json.loads(a.reasons)) for a in s.scalars(select(ApplicationRow))
            }
            keys = [(e["source"], e["id"]) for e in workload.all_events]
            applied = uow.inbox.seen(keys)
            dead = s.scalar(select(func.count()).select_from(DeadLetterRow))
            unpublished = s.scalar(select(func.count()).select_from(OutboxRow).where(OutboxRow.published_at.is_(None)))
            inbox = s.scalar(select(func.count()).select_from(InboxRow))
    finally:
        engine.dispose()
    assert set(certificates) == workload.cleared, "certificates differ from the cleared applications"
    assert all(n == 1 for n in certificates.values()), "an application holds two certificates"
    assert len(applied) == len(set(keys)) and dead == 0, "an event was neither applied nor dead-lettered"
    assert inbox == len(set(keys)), "an event was applied twice or a stranger slipped in"
    for app, amount in workload.blocked_by_fine.items():
        status, reasons = statuses[app]
        assert status == "blocked" and [r["amount"] for r in reasons] == [amount], f"{app}: a payment counted twice?"
    for app in workload.blocked_by_loan:
        assert statuses[app][0] == "blocked"
    assert unpublished == 0, "stored messages were never published"
    return len(keys)


def check_topics(workload: Workload, harness: Harness) -> None:
    """On the output topics: at-least-once, so a message may repeat, but a certificate may never differ."""
    numbers: dict[str, set[str]] = {}
    for issued in harness.certificates():
        numbers.setdefault(issued["certificate"]["application_id"], set()).add(issued["certificate"]["number"])
    assert set(numbers) == workload.cleared
    assert all(len(n) == 1 for n in numbers.values()), "two different certificates for one application"


def check_invariants(workload: Workload, harness: Harness, database_url: str, name: str, faults: int) -> None:
    """Both checks, and the line the closing note quotes."""
    events = check_database(workload, database_url)
    check_topics(workload, harness)
    blocked = len(workload.blocked_by_fine) + len(workload.blocked_by_loan)
    print(f"SCENARIO {name}: events={events} faults={faults} certificates={len(workload.cleared)} "
          f"blocked={blocked} invariants=ok")  # fmt: skip
