"""Read-only views of the store for operators and metrics: the service's backlog and one student's file.

Nothing here writes. ``clearance status``, ``clearance applications show``
and the Prometheus monitor read through these functions, so what a metric
says and what an operator reads in a terminal come from the same queries.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import func, or_, select, tuple_
from sqlalchemy.orm import Session

from clearance.domain.states import Fine
from clearance.store.states import to_domain
from clearance.store.tables import (
    ApplicationRow,
    CertificateRow,
    DeadLetterRow,
    DepositRow,
    FineRow,
    LoanRow,
    OutboxRow,
    PatronLinkRow,
    PatronSnapshotRow,
    TrainingRow,
)
from clearance.store.unit_of_work import SqlUnitOfWork
from schemas.outbound import Status
from schemas.registry import INBOUND_TOPICS


@dataclass(frozen=True, slots=True)
class OutboxBacklog:
    """Messages written but not yet acknowledged by the broker."""

    count: int
    oldest_created_at: datetime | None
    by_topic: Mapping[str, int]

    def oldest_age_seconds(self, now: datetime) -> float:
        """How long the oldest unpublished message has waited; 0 when there is none."""
        if self.oldest_created_at is None:
            return 0.0
        return max(0.0, (now - self.oldest_created_at).total_seconds())


@dataclass(frozen=True, slots=True)
class ServiceStatus:
    """What an operator asks first: is anything stuck, and how do the applications stand."""

    outbox: OutboxBacklog
    positions: Mapping[tuple[str, int], int]
    applications: Mapping[str, int]
    dead_letters: Mapping[str, int]
    dead_letters_unreplayed: int
    pending_since: datetime | None
    # Outbox rows the broker refused for good, kept aside until an operator releases them.
    set_aside: int = 0


def outbox_backlog(session: Session) -> OutboxBacklog:
    """Unpublished outbox rows: how many, per topic, and when the oldest was written."""
    rows = session.execute(
        select(OutboxRow.topic, func.count(), func.min(OutboxRow.created_at))
        .where(OutboxRow.published_at.is_(None), OutboxRow.set_aside_at.is_(None))
        .group_by(OutboxRow.topic)
    ).all()
    oldest = [r[2] for r in rows if r[2] is not None]
    return OutboxBacklog(
        count=sum(int(r[1]) for r in rows),
        oldest_created_at=min(oldest) if oldest else None,
        by_topic={str(r[0]): int(r[1]) for r in rows},
    )


def application_counts(session: Session) -> dict[str, int]:
    """Applications by status; every status is present, zero included."""
    counts = {s.value: 0 for s in Status}
    for status, count in session.execute(select(ApplicationRow.status, func.count()).group_by(ApplicationRow.status)):
        counts[Status(status).value] = int(count)
    return counts


def dead_letter_counts(session: Session) -> tuple[dict[str, int], int]:
    """Dead letters by error kind, and how many were never replayed."""
    by_kind = {
        str(kind): int(count)
        for kind, count in session.execute(
            select(DeadLetterRow.error_kind, func.count()).group_by(DeadLetterRow.error_kind)
        )
    }
    unreplayed = session.scalar(select(func.count()).select_from(DeadLetterRow).where(DeadLetterRow.replay_count == 0))
    return by_kind, int(unreplayed or 0)


def service_status(uow: SqlUnitOfWork) -> ServiceStatus:
    """Backlog, applied positions, applications by status and dead letters, in one read."""
    session = uow.session
    by_kind, unreplayed = dead_letter_counts(session)
    return ServiceStatus(
        outbox=outbox_backlog(session),
        positions=uow.positions.applied(t.value for t in INBOUND_TOPICS),
        applications=application_counts(session),
        dead_letters=by_kind,
        dead_letters_unreplayed=unreplayed,
        pending_since=uow.decisions.pending_since(),
        set_aside=len(uow.outbox.set_aside_rows()),
    )


def consumer_lag(
    watermarks: Mapping[tuple[str, int], tuple[int, int]], positions: Mapping[tuple[str, int], int]
) -> dict[tuple[str, int], int]:
    """Records on the broker not yet applied, per partition: its next offset minus the applied position.

    ``watermarks`` maps (logical topic, partition) to the broker's (first, next) offsets. A partition
    with no stored position, or one below what retention kept, counts from the first offset kept.
    """
    return {key: max(0, high - max(low, positions.get(key, low))) for key, (low, high) in sorted(watermarks.items())}


# -- one student ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ApplicationView:
    """An application, what the registrar was last told about it, and its certificate."""

    application_id: str
    faculty: str | None
    program: str | None
    degree_level: str | None
    graduation_period: str | None
    status: str
    reasons: list[dict[str, Any]]
    evaluated_at: datetime | None
    withdrawn: bool
    stale_sources: str | None
    certificate_number: str | None
    certificate_issued_at: datetime | None
    certificate_key_id: str | None
    revoked_at: datetime | None
    revocation_reason: str | None


@dataclass(frozen=True, slots=True)
class StudentReport:
    """Everything the service knows about one student, as stored."""

    student_id: str
    full_name: str | None
    applications: list[ApplicationView] = field(default_factory=list)
    links: list[PatronLinkRow] = field(default_factory=list)
    loans: list[LoanRow] = field(default_factory=list)
    fines: list[FineRow] = field(default_factory=list)
    snapshots: list[PatronSnapshotRow] = field(default_factory=list)
    trainings: list[TrainingRow] = field(default_factory=list)
    deposits: list[DepositRow] = field(default_factory=list)
    dead_letters: list[DeadLetterRow] = field(default_factory=list)

    @property
    def known(self) -> bool:
        """Whether the service has heard anything at all of this student."""
        return bool(self.applications or self.links or self.deposits)


def fine_outstanding(fine: FineRow) -> Decimal:
    """What is still owed on a fine, by the domain's own rule (:attr:`clearance.domain.states.Fine.outstanding`)."""
    return to_domain(fine, Fine).outstanding


def student_report(session: Session, student_id: str, dead_letter_limit: int = 20) -> StudentReport:
    """The student's applications (with the last reasons and certificate), patron links, loans, fines,
    reconciliation snapshots, trainings, deposits, and dead letters keyed by the student or their patrons."""
    applications = list(
        session.scalars(
            select(ApplicationRow)
            .where(ApplicationRow.student_id == student_id)
            .order_by(ApplicationRow.submitted_at, ApplicationRow.application_id)
        )
    )
    certificates = {
        c.application_id: c
        for c in session.scalars(select(CertificateRow).where(CertificateRow.student_id == student_id))
    }
    links = list(
        session.scalars(
            select(PatronLinkRow)
            .where(PatronLinkRow.student_id == student_id)
            .order_by(PatronLinkRow.library_id, PatronLinkRow.patron_id)
        )
    )
    patrons = [(link.library_id, link.patron_id) for link in links]

    def of_patrons(model: Any, *order: Any) -> list[Any]:
        if not patrons:
            return []
        return list(
            session.scalars(
                select(model).where(tuple_(model.library_id, model.patron_id).in_(patrons)).order_by(*order)
            )
        )

    keys = [student_id.encode()] + [p.encode() for _library, p in patrons]
    dead_letters = list(
        session.scalars(
            select(DeadLetterRow)
            .where(or_(*(DeadLetterRow.key == k for k in keys)))
            .order_by(DeadLetterRow.id.desc())
            .limit(dead_letter_limit)
        )
    )
    views = []
    for row in applications:
        certificate = certificates.get(row.application_id)
        views.append(
            ApplicationView(
                application_id=row.application_id,
                faculty=row.faculty,
                program=row.program,
                degree_level=row.degree_level,
                graduation_period=row.graduation_period,
                status=Status(row.status).value,
                reasons=json.loads(row.reasons or "[]"),
                evaluated_at=row.evaluated_at,
                withdrawn=bool(row.withdrawn),
                stale_sources=row.stale_sources,
                certificate_number=certificate.number if certificate else None,
                certificate_issued_at=certificate.issued_at if certificate else None,
                certificate_key_id=certificate.key_id if certificate else None,
                revoked_at=certificate.revoked_at if certificate else None,
                revocation_reason=certificate.revocation_reason if certificate else None,
            )
        )
    full_name = next((a.full_name for a in reversed(applications) if a.full_name), None)
    report = StudentReport(
        student_id=student_id,
        full_name=full_name,
        applications=views,
        links=links,
        loans=of_patrons(LoanRow, LoanRow.library_id, LoanRow.borrowed_at, LoanRow.loan_id),
        fines=of_patrons(FineRow, FineRow.library_id, FineRow.fine_id),
        snapshots=of_patrons(PatronSnapshotRow, PatronSnapshotRow.library_id),
        trainings=of_patrons(TrainingRow, TrainingRow.library_id, TrainingRow.course),
        deposits=list(
            session.scalars(
                select(DepositRow).where(DepositRow.student_id == student_id).order_by(DepositRow.deposit_id)
            )
        ),
        dead_letters=dead_letters,
    )
    # The rows stay readable after the session closes (a rollback would expire them otherwise).
    for rows in (report.links, report.loans, report.fines, report.snapshots, report.trainings, report.deposits):
        for row in rows:
            session.expunge(row)
    for letter in report.dead_letters:
        session.expunge(letter)
    return report
