"""What deciding needs from the store: student locks, live applications, certificates, counters."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, select

from clearance.domain.states import Application, IssuedCertificate, TrackedApplication
from clearance.store.dialect import Dialect
from clearance.store.pending import PendingWrites
from clearance.store.states import to_domain
from clearance.store.tables import ApplicationRow, CertificateRow, CounterRow, StudentRow
from schemas.outbound import Status

_TRACKED = [ApplicationRow.__table__.c[name] for name in ("status", "reasons", "received_at")]
_APPLICATION = [ApplicationRow.__table__.c[name] for name in Application.__dataclass_fields__]


class SqlDecisions:
    """Decisions in one transaction."""

    def __init__(self, dialect: Dialect, pending: PendingWrites) -> None:
        self.dialect = dialect
        self.session = dialect.session
        self.pending = pending

    def lock_students(self, student_ids: Iterable[str], skip_locked: bool = False) -> list[str]:
        """Create and lock the students' rows, in a fixed order so that batches never deadlock.

        Every transaction that decides about a student holds this lock while
        it reads the student's state, so a decision always sees every fact
        committed before it (no lost re-evaluation between two topics). With
        ``skip_locked``, students another transaction holds are left out (and
        not returned): that transaction is deciding about them already.
        """
        ordered = sorted(set(student_ids))
        if not ordered:
            return []
        self.dialect.create_rows(StudentRow.__table__, StudentRow.student_id, ordered)
        locked: list[str] = []
        for chunk in self.dialect.groups(ordered):
            query = self.dialect.lock_rows(
                select(StudentRow.student_id)
                .where(self.dialect.among(StudentRow.student_id, chunk))
                .order_by(StudentRow.student_id),
                skip_locked,
            )
            if query is None:
                return ordered  # SQLite's single writer already serialises every decision
            locked.extend(self.session.scalars(query))
        return locked

    def live_applications(self, student_ids: Sequence[str]) -> dict[str, list[TrackedApplication]]:
        """The applications of the students that can still change (not withdrawn, not revoked)."""
        self.pending.flush()
        found: dict[str, list[TrackedApplication]] = {}
        for chunk in self.dialect.groups(list(student_ids)):
            rows = self.session.execute(
                select(*_APPLICATION, *_TRACKED)
                .where(
                    self.dialect.among(ApplicationRow.student_id, chunk),
                    ApplicationRow.status.not_in([Status.WITHDRAWN, Status.REVOKED]),
                )
                .order_by(ApplicationRow.student_id, ApplicationRow.application_id)
            )
            for row in rows:
                tracked = TrackedApplication(to_domain(row, Application), row.status, row.reasons, row.received_at)
                found.setdefault(row.student_id, []).append(tracked)
        return found

    def certificates_for(self, application_ids: Sequence[str]) -> dict[str, IssuedCertificate]:
        """The certificate of each application that has one, revoked or not."""
        self.pending.flush()
        found: dict[str, IssuedCertificate] = {}
        table = CertificateRow.__table__
        columns = [table.c[n] for n in ("number", "application_id", "student_id", "issued_at", "revoked_at")]
        for chunk in self.dialect.groups(list(application_ids)):
            query = select(*columns, table.c.document).where(self.dialect.among(table.c.application_id, chunk))
            for row in self.session.execute(query):
                issuer = json.loads(row.document)["certificate"]["issuer"]
                found[row.application_id] = IssuedCertificate(
                    row.number, row.application_id, row.student_id, row.issued_at, issuer, row.revoked_at
                )
        return found

    def take_values(self, counter: str, count: int) -> int:
        """Reserve ``count`` consecutive values of a named counter; return the first. Atomic across instances."""
        stmt = self.dialect.insert(CounterRow).values(name=counter, value=count)
        stmt = stmt.on_conflict_do_update(index_elements=[CounterRow.name], set_={"value": CounterRow.value + count})
        last = int(self.session.execute(stmt.returning(CounterRow.value)).scalar_one())
        return last - count + 1

    def record_decision(
        self, application_id: str, status: Status, reasons: str, policy_digest: str, at: datetime
    ) -> None:
        """Remember what the registrar is told about an application now."""
        self.pending.decisions.append(
            {
                "application_id": application_id,
                "status": status,
                "reasons": reasons,
                "policy_digest": policy_digest,
                "evaluated_at": at,
            }
        )

    def record_stale_sources(self, application_id: str, sources: Sequence[str]) -> None:
        """Remember which sources were behind when a decision could wait no longer."""
        self.pending.stale.append({"application_id": application_id, "stale_sources": json.dumps(list(sources))})

    def add_certificate(self, values: Mapping[str, Any]) -> None:
        """Record a certificate; the database allows one per application (G1), so a second fails the commit."""
        self.pending.insert(CertificateRow, values)

    def revoke_certificate(self, number: str, at: datetime, reason: str) -> None:
        """Mark a certificate revoked."""
        self.pending.revocations.append({"number": number, "revoked_at": at, "revocation_reason": reason})

    def pending_students(self, limit: int) -> list[str]:
        """Students with an application waiting for its sources to catch up."""
        self.pending.flush()
        return list(
            self.session.scalars(
                select(ApplicationRow.student_id)
                .where(ApplicationRow.status == Status.PENDING, ApplicationRow.submitted_stamp.is_not(None))
                .distinct()
                .order_by(ApplicationRow.student_id)
                .limit(limit)
            )
        )

    def pending_since(self) -> datetime | None:
        """When the longest-held pending application arrived."""
        self.pending.flush()
        return self.session.scalar(
            select(func.min(ApplicationRow.received_at)).where(ApplicationRow.status == Status.PENDING)
        )
