"""The store on SQLite and PostgreSQL: schema, inbox, counters, uniqueness, aggregation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, inspect, select
from sqlalchemy.exc import IntegrityError

from clearance.domain.states import LoanStatus
from clearance.store.engine import make_engine
from clearance.store.migrate import upgrade
from clearance.store.tables import LoanRow, PatronLinkRow
from clearance.store.unit_of_work import SqlUnitOfWork

NOW = datetime(2026, 11, 24, tzinfo=UTC)


def test_migration_creates_every_table_and_is_repeatable(database_url: str) -> None:
    upgrade(database_url)  # a second run is a no-op
    engine = make_engine(database_url)
    tables = set(inspect(engine).get_table_names())
    engine.dispose()
    assert {
        "inbox", "students", "patron_links", "loans", "fines", "deposits", "trainings",
        "applications", "certificates", "counters", "outbox", "dead_letters", "alembic_version",
    } <= tables  # fmt: skip


def test_inbox_remembers_applied_event_ids(session_factory) -> None:
    with SqlUnitOfWork(session_factory) as uow:
        uow.inbox.remember([("urn:a", "1", "t"), ("urn:a", "2", "t")], NOW)
        uow.commit()
    with SqlUnitOfWork(session_factory) as uow:
        assert uow.inbox.seen([("urn:a", "1"), ("urn:a", "3"), ("urn:b", "2")]) == {("urn:a", "1")}


def test_inbox_refuses_the_same_event_twice(session_factory) -> None:
    with SqlUnitOfWork(session_factory) as uow:
        uow.inbox.remember([("urn:a", "1", "t")], NOW)
        uow.commit()
    with SqlUnitOfWork(session_factory) as uow, pytest.raises(IntegrityError):
        uow.inbox.remember([("urn:a", "1", "t")], NOW)
        uow.flush()


def test_ids_with_quotes_and_percent_signs_are_plain_data(session_factory) -> None:
    nasty = 'x\'); DROP TABLE inbox; -- 100% "quoted"'
    with SqlUnitOfWork(session_factory) as uow:
        uow.inbox.remember([(nasty, nasty, "t")], NOW)
        uow.commit()
    with SqlUnitOfWork(session_factory) as uow:
        assert uow.inbox.seen([(nasty, nasty)]) == {(nasty, nasty)}


def test_counters_count_up_from_one_per_name(session_factory) -> None:
    with SqlUnitOfWork(session_factory) as uow:
        values = [uow.decisions.take_values("certificate:2026-2", 1) for _ in range(2)]
        other = uow.decisions.take_values("certificate:2027-1", 1)
        uow.commit()
    assert values == [1, 2]
    assert other == 1


def _certificate(number: str, application_id: str) -> dict[str, object]:
    return {
        "number": number, "application_id": application_id, "student_id": "S1", "key_id": "k", "issued_at": NOW,
        "document": "{}",
    }  # fmt: skip


def test_the_database_allows_one_certificate_per_application(session_factory) -> None:
    with SqlUnitOfWork(session_factory) as uow:
        uow.decisions.add_certificate(_certificate("BP/1", "APP-1"))
        uow.commit()
    with SqlUnitOfWork(session_factory) as uow, pytest.raises(IntegrityError):
        uow.decisions.add_certificate(_certificate("BP/2", "APP-1"))
        uow.flush()


def test_student_state_counts_loans_of_every_linked_patron_at_every_library(session_factory) -> None:
    due = NOW + timedelta(days=7)
    with SqlUnitOfWork(session_factory) as uow:
        s = uow.session
        s.add_all(
            [
                PatronLinkRow(library_id="central", patron_id="P1", student_id="S1"),
                PatronLinkRow(library_id="fk-teknik", patron_id="T9", student_id="S1"),
                PatronLinkRow(library_id="central", patron_id="P2", student_id="S2"),
            ]
        )
        for library, loan, patron, status in [
            ("central", "L1", "P1", LoanStatus.OPEN),
            ("fk-teknik", "L1", "T9", LoanStatus.LOST),
            ("fk-teknik", "L2", "T9", LoanStatus.RETURNED),
            ("central", "L3", "P2", LoanStatus.OPEN),  # another student's
            ("fk-teknik", "L4", "P1", LoanStatus.OPEN),  # P1 is not linked at fk-teknik
            ("partner", "L5", "UNLINKED", LoanStatus.OPEN),
        ]:
            s.add(LoanRow(library_id=library, loan_id=loan, patron_id=patron, status=status, due_at=due))
        uow.commit()
    with SqlUnitOfWork(session_factory) as uow:
        state = uow.states.student_states(["S1"])["S1"]
    assert {(loan.library_id, loan.loan_id, loan.status) for loan in state.loans} == {
        ("central", "L1", LoanStatus.OPEN),
        ("fk-teknik", "L1", LoanStatus.LOST),
    }
    assert state.loans[0].due_at == due


def test_datetimes_keep_the_offset_they_were_sent_with(session_factory) -> None:
    from datetime import timezone

    due = datetime(2026, 10, 1, 0, 0, tzinfo=timezone(timedelta(hours=7)))
    with SqlUnitOfWork(session_factory) as uow:
        uow.session.add(LoanRow(library_id="c", loan_id="L", patron_id="P", due_at=due, status=LoanStatus.OPEN))
        uow.commit()
    with SqlUnitOfWork(session_factory) as uow:
        row = uow.session.get(LoanRow, ("c", "L"))
        assert row is not None
        assert row.due_at is not None and row.due_at.isoformat() == "2026-10-01T00:00:00+07:00"


def test_instants_the_service_records_come_back_aware_and_comparable_in_utc(session_factory) -> None:
    """SQLite drops a datetime's offset: a Jakarta wall time must not come back as UTC seven hours off."""
    from datetime import timezone

    from clearance.store.tables import InboxRow

    jakarta = timezone(timedelta(hours=7))
    at = datetime(2026, 11, 24, 10, 0, tzinfo=jakarta)
    with SqlUnitOfWork(session_factory) as uow:
        uow.inbox.remember([("urn:s", "e1", "library.loan.opened")], at)
        uow.commit()
    with SqlUnitOfWork(session_factory) as uow:
        row = uow.session.get(InboxRow, ("urn:s", "e1"))
        assert row is not None and row.processed_at == at and row.processed_at.tzinfo is not None
        assert row.processed_at.utcoffset() == timedelta(0)
        before = datetime(2026, 11, 24, 3, 30, tzinfo=UTC)  # 10:30 in Jakarta: after the row
        assert uow.session.scalar(select(func.count()).select_from(InboxRow).where(InboxRow.processed_at < before)) == 1


def test_pruning_removes_only_published_outbox_rows_and_old_inbox_ids(session_factory) -> None:
    from clearance.store.tables import InboxRow, OutboxRow

    old, recent = NOW - timedelta(days=40), NOW - timedelta(days=1)
    with SqlUnitOfWork(session_factory) as uow:
        uow.inbox.remember([("urn:a", "old", "t")], old)
        uow.inbox.remember([("urn:a", "new", "t")], recent)
        for i, published in enumerate([old, recent, None]):
            uow.session.add(
                OutboxRow(
                    event_id=f"e{i}",
                    topic="clearance.status",
                    key=b"k",
                    value=b"v",
                    headers="[]",
                    type="t",
                    created_at=old,
                    published_at=published,
                )
            )
        uow.commit()
    with SqlUnitOfWork(session_factory) as uow:
        assert (uow.outbox.prune(NOW - timedelta(days=35)), uow.inbox.prune(NOW - timedelta(days=35))) == (1, 1)
        uow.commit()
    with SqlUnitOfWork(session_factory) as uow:
        assert [r.event_id for r in uow.session.query(InboxRow)] == ["new"]
        assert sorted(r.event_id for r in uow.session.query(OutboxRow)) == ["e1", "e2"]
