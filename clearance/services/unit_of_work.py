"""The transaction boundary the services work through: an abstract unit of work and its repositories.

The services know the store only through these protocols; the SQLAlchemy
implementation is :class:`clearance.store.unit_of_work.SqlUnitOfWork`, and the
unit tests use an in-memory one. Nothing a service writes is kept unless the
caller commits.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol, Self, TypeVar

from clearance.domain.decision import StudentState
from clearance.domain.states import IssuedCertificate, Loan, Payment, TrackedApplication, Training
from schemas.outbound import Status

T = TypeVar("T")


class Inbox(Protocol):
    """Which events were applied, by (source, id)."""

    def seen(self, keys: Sequence[tuple[str, str]]) -> set[tuple[str, str]]: ...

    def remember(self, entries: Sequence[tuple[str, str, str]], at: datetime) -> None: ...

    def claim(self, entries: Sequence[tuple[str, str, str]], at: datetime) -> set[tuple[str, str]]: ...


class States(Protocol):
    """Projection states by primary key, written back in bulk."""

    def load(self, cls: type[T], keys: Iterable[tuple[Any, ...]]) -> dict[tuple, T]: ...

    def upsert(self, cls: type, states: Sequence[Any], on_insert: dict[str, Any] | None = None) -> None: ...

    def add_payments(self, payments: Sequence[Payment]) -> set[tuple[str, str, str]]: ...

    def add_trainings(self, trainings: Sequence[Training]) -> None: ...

    def loans_of_patron(self, library_id: str, patron_id: str) -> dict[tuple, Loan]: ...

    def students_of_patrons(self, patrons: Iterable[tuple[str, str]]) -> dict[tuple[str, str], str]: ...

    def student_states(self, student_ids: Sequence[str]) -> dict[str, StudentState]: ...


class Decisions(Protocol):
    """Student locks, live applications, certificates and counters."""

    def lock_students(self, student_ids: Iterable[str], skip_locked: bool = False) -> list[str]: ...

    def live_applications(self, student_ids: Sequence[str]) -> dict[str, list[TrackedApplication]]: ...

    def certificates_for(self, application_ids: Sequence[str]) -> dict[str, IssuedCertificate]: ...

    def take_values(self, counter: str, count: int) -> int: ...

    def record_decision(
        self, application_id: str, status: Status, reasons: str, policy_digest: str, at: datetime
    ) -> None: ...

    def record_stale_sources(self, application_id: str, sources: Sequence[str]) -> None: ...

    def add_certificate(self, values: Mapping[str, Any]) -> None: ...

    def revoke_certificate(self, number: str, at: datetime, reason: str) -> None: ...

    def pending_students(self, limit: int) -> list[str]: ...

    def pending_since(self) -> datetime | None: ...


class Positions(Protocol):
    """How far each inbound partition is applied."""

    def save(
        self, positions: Mapping[tuple[str, int], int], at: datetime, topic_ids: Mapping[str, str | None] | None = None
    ) -> None: ...

    def applied(
        self, topics: Iterable[str], topic_ids: Mapping[str, str | None] | None = None
    ) -> dict[tuple[str, int], int]: ...


class Outbox(Protocol):
    """Messages for the relay, and dead letters."""

    def add(self, values: Mapping[str, Any]) -> None: ...

    def add_dead_letter(self, values: Mapping[str, Any]) -> int | None: ...


class UnitOfWork(Protocol):
    """One transaction over every repository."""

    inbox: Inbox
    states: States
    decisions: Decisions
    positions: Positions
    outbox: Outbox

    def __enter__(self) -> Self: ...

    def __exit__(self, *exc: object) -> None: ...

    def commit(self) -> None: ...
