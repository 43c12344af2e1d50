"""A workload whose every outcome is known, and the invariants checked after each fault scenario."""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Collection, Sequence
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
from schemas.registry import Topic

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

    def expected(self, withdrawn: Collection[str] = ()) -> dict[str, str]:
        """The status every application must end in; ``withdrawn`` ones end withdrawn whatever they were."""
        outcome = dict.fromkeys(self.cleared, "cleared")
        outcome.update(dict.fromkeys([*self.blocked_by_fine, *self.blocked_by_loan], "blocked"))
        outcome.update(dict.fromkeys(withdrawn, "withdrawn"))
        return outcome

    def unsettled(self, harness: Harness, withdrawn: Collection[str] = ()) -> dict[str, tuple[str, str | None]]:
        """Applications whose last published status is not the expected one: expected, published."""
        return {
            app: (want, got) for app, want in self.expected(withdrawn).items() if (got := harness.status(app)) != want
        }

    def settled(self, harness: Harness, withdrawn: Collection[str] = ()) -> bool:
        """Every application has reached its expected published status."""
        return not self.unsettled(harness, withdrawn)

    def wait_settled(self, harness: Harness, timeout: float, withdrawn: Collection[str] = ()) -> None:
        """Wait for every expected outcome; on timeout, say which applications are not there and why."""
        try:
            harness.wait_for(lambda _: self.settled(harness, withdrawn), timeout=timeout, what="every expected outcome")
        except AssertionError as exc:
            missing = self.unsettled(harness, withdrawn)
            sample = dict(sorted(missing.items())[:10])
            raise AssertionError(f"{exc}\n{len(missing)} unsettled (expected, published), e.g. {sample}") from None


@dataclass(frozen=True)
class Poison:
    """A record the service must dead-letter, as published: where to, its bytes, and the error-kind it earns."""

    topic: Topic
    key: bytes | None
    value: bytes | None
    kind: str

    @property
    def identity(self) -> tuple[str, str, str]:
        """The error-kind and the SHA-256 of the key and of the value: what a dead letter must match."""
        return (self.kind, _sha256(self.key), _sha256(self.value))


def _sha256(data: bytes | None) -> str:
    return "none" if data is None else hashlib.sha256(data).hexdigest()


def check_database(
    workload: Workload, database_url: str, *, dead_letters: Sequence[Poison] = (), withdrawn: Collection[str] = ()
) -> int:
    """In the database: one certificate per cleared application, none for blocked, every event applied once.

    ``dead_letters`` are the records that must be dead-lettered, and nothing else; ``withdrawn``
    applications end withdrawn, and a certificate issued to one of them before it was withdrawn is revoked.
    """
    engine = make_engine(database_url)
    try:
        with SqlUnitOfWork(make_session_factory(engine)) as uow:
            s = uow.session
            certificates = Counter(s.scalars(select(CertificateRow.application_id)))
            revoked = set(
                s.scalars(select(CertificateRow.application_id).where(CertificateRow.revoked_at.is_not(None)))
            )
            statuses = {
                a.application_id: (a.status.value, json.loads(a.reasons)) for a in s.scalars(select(ApplicationRow))
            }
            keys = [(e["source"], e["id"]) for e in workload.all_events]
            applied = uow.inbox.seen(keys)
            dead = Counter(
                (row.error_kind, _sha256(row.key), _sha256(row.value))
                for row in s.execute(select(DeadLetterRow.error_kind, DeadLetterRow.key, DeadLetterRow.value))
            )
            unpublished = s.scalar(select(func.count()).select_from(OutboxRow).where(OutboxRow.published_at.is_(None)))
            set_aside = s.scalar(select(func.count()).select_from(OutboxRow).where(OutboxRow.set_aside_at.is_not(None)))
            inbox = s.scalar(select(func.count()).select_from(InboxRow))
    finally:
        engine.dispose()
    withdrawn = set(withdrawn)
    assert set(certificates) - withdrawn == workload.cleared - withdrawn, "certificates differ from the cleared"
    assert all(n == 1 for n in certificates.values()), "an application holds two certificates"
    assert revoked == set(certificates) & withdrawn, "a withdrawn application's certificate stands, or another's fell"
    assert len(applied) == len(set(keys)), "an event was neither applied nor dead-lettered"
    expected_dead = Counter(p.identity for p in dead_letters)
    assert dead == expected_dead, (
        f"dead letters (kind counts) {sorted(Counter(k for k, _, _ in dead.elements()).items())} are not exactly "
        f"the poison records {sorted(Counter(p.kind for p in dead_letters).items())}"
    )
    assert inbox == len(set(keys)), "an event was applied twice or a stranger slipped in"
    for app, amount in workload.blocked_by_fine.items():
        if app in withdrawn:
            continue
        status, reasons = statuses[app]
        assert status == "blocked" and [r["amount"] for r in reasons] == [amount], f"{app}: a payment counted twice?"
    for app, want in workload.expected(withdrawn).items():
        assert statuses[app][0] == want, f"{app}: stored {statuses[app][0]}, expected {want}"
    assert set_aside == 0, "a message was set aside instead of published"
    assert unpublished == 0, "stored messages were never published"
    return len(keys)


def check_topics(
    workload: Workload, harness: Harness, *, dead_letters: Sequence[Poison] = (), withdrawn: Collection[str] = ()
) -> None:
    """On the output topics: at-least-once, so a message may repeat, but a certificate may never differ.

    A certificate issued to a ``withdrawn`` application is followed by its revocation; the dead-letter
    topic carries exactly ``dead_letters`` (a repeat of one stored dead letter counts once), each under 1 MiB.
    """
    withdrawn = set(withdrawn)
    numbers: dict[str, set[str]] = {}
    for issued in harness.certificates():
        numbers.setdefault(issued["certificate"]["application_id"], set()).add(issued["certificate"]["number"])
    assert set(numbers) - withdrawn == workload.cleared - withdrawn
    assert all(len(n) == 1 for n in numbers.values()), "two different certificates for one application"
    for app in withdrawn & set(numbers):
        assert {r["number"] for r in harness.revocations(app)} == numbers[app], f"{app}: certificate not revoked"
    for app in set(numbers) - withdrawn:
        assert not harness.revocations(app), f"{app}: a cleared application's certificate was revoked"
    published: dict[bytes, tuple[str, str, str]] = {}
    for letter in harness.dead_letters():
        size = (
            len(letter.key or b"") + len(letter.value or b"") + sum(len(k) + len(v) for k, v in letter.headers.items())
        )
        assert size < 1_048_576, f"a dead letter of {size} bytes was published"
        h = letter.headers
        key_sha = h["key-sha256"].decode() if "key-sha256" in h else _sha256(letter.key)
        value_sha = h["value-sha256"].decode() if "value-sha256" in h else _sha256(letter.value)
        published[h["dead-letter-id"]] = (h["error-kind"].decode(), key_sha, value_sha)
    assert Counter(published.values()) == Counter(p.identity for p in dead_letters), (
        f"dead letters on the topic {sorted(Counter(k for k, _, _ in published.values()).items())} are not exactly "
        f"the poison records {sorted(Counter(p.kind for p in dead_letters).items())}"
    )


def check_invariants(
    workload: Workload,
    harness: Harness,
    database_url: str,
    name: str,
    faults: int,
    *,
    dead_letters: Sequence[Poison] = (),
    withdrawn: Collection[str] = (),
) -> None:
    """Both checks, and the line the closing note quotes."""
    events = check_database(workload, database_url, dead_letters=dead_letters, withdrawn=withdrawn)
    check_topics(workload, harness, dead_letters=dead_letters, withdrawn=withdrawn)
    withdrawn = set(withdrawn)
    certificates = len(workload.cleared - withdrawn)
    blocked = len((set(workload.blocked_by_fine) | workload.blocked_by_loan) - withdrawn)
    extra = f"dead-letters={len(dead_letters)} " if dead_letters else ""
    extra += f"withdrawn={len(withdrawn)} " if withdrawn else ""
    print(f"SCENARIO {name}: events={events} faults={faults} certificates={certificates} "
          f"blocked={blocked} {extra}invariants=ok")  # fmt: skip
