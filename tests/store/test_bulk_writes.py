"""Set-based writes on SQLite and PostgreSQL: many rows in one statement keep every value and default.

PostgreSQL takes these as one ``unnest`` statement per table; SQLite as an executemany.
The tests write several rows at once, since a single row takes the plain path on both.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

from sqlalchemy import select

from clearance.domain.states import Application, Fine, Loan, LoanStatus
from clearance.store.tables import ApplicationRow, CertificateRow, InboxRow
from clearance.store.unit_of_work import SqlUnitOfWork
from schemas.outbound import Status

NOW = datetime(2026, 11, 24, tzinfo=UTC)
JAKARTA = timezone(timedelta(hours=7))


def _loans(count: int, status: LoanStatus) -> list[Loan]:
    due = datetime(2026, 12, 1, 17, 0, tzinfo=JAKARTA)
    loans = []
    for i in range(count):
        title = None if i % 2 else "Judul"
        loans.append(Loan("central", f"L{i}", patron_id=f"P{i}", title=title, due_at=due, status=status,
                          interlibrary=bool(i % 3 == 0), status_stamp=f"s{i}"))  # fmt: skip
    return loans


def test_many_states_are_inserted_with_their_exact_values(session_factory) -> None:
    loans = _loans(40, LoanStatus.OPEN)
    with SqlUnitOfWork(session_factory) as uow:
        uow.states.upsert(Loan, loans)
        uow.commit()
    with SqlUnitOfWork(session_factory) as uow:
        loaded = uow.states.load(Loan, [(loan.library_id, loan.loan_id) for loan in loans])
    assert [loaded[(loan.library_id, loan.loan_id)] for loan in loans] == loans
    assert loaded[("central", "L0")].due_at.utcoffset() == timedelta(hours=7)  # type: ignore[union-attr]


def test_many_states_upserted_again_replace_the_stored_ones(session_factory) -> None:
    with SqlUnitOfWork(session_factory) as uow:
        uow.states.upsert(Loan, _loans(30, LoanStatus.OPEN))
        uow.commit()
    returned = _loans(30, LoanStatus.RETURNED)
    with SqlUnitOfWork(session_factory) as uow:
        uow.states.upsert(Loan, returned[:20])
        uow.commit()
    with SqlUnitOfWork(session_factory) as uow:
        loaded = uow.states.load(Loan, [(loan.library_id, loan.loan_id) for loan in returned])
    assert [loaded[(loan.library_id, loan.loan_id)].status for loan in returned] == (
        [LoanStatus.RETURNED] * 20 + [LoanStatus.OPEN] * 10
    )


def test_exact_decimals_survive_a_bulk_upsert(session_factory) -> None:
    fines = [Fine("central", f"F{i}", patron_id="P1", amount=Decimal(f"{i}.05"), currency="IDR") for i in range(20)]
    with SqlUnitOfWork(session_factory) as uow:
        uow.states.upsert(Fine, fines)
        uow.commit()
    with SqlUnitOfWork(session_factory) as uow:
        loaded = uow.states.load(Fine, [(f.library_id, f.fine_id) for f in fines])
    assert [loaded[(f.library_id, f.fine_id)].amount for f in fines] == [Decimal(f"{i}.05") for i in range(20)]
    assert all(loaded[(f.library_id, f.fine_id)].paid == Decimal(0) for f in fines)


def test_new_applications_in_bulk_get_the_column_defaults_and_the_insert_only_columns(session_factory) -> None:
    applications = [Application(f"A{i}", f"S{i}", full_name=f"Mahasiswa {i}") for i in range(25)]
    with SqlUnitOfWork(session_factory) as uow:
        uow.states.upsert(Application, applications, on_insert={"received_at": NOW})
        uow.commit()
    later = NOW + timedelta(hours=1)
    with SqlUnitOfWork(session_factory) as uow:
        uow.states.upsert(Application, applications[:10], on_insert={"received_at": later})
        uow.commit()
    with session_factory() as session:
        rows = session.execute(select(ApplicationRow).order_by(ApplicationRow.application_id)).scalars().all()
        assert {r.status for r in rows} == {Status.PENDING}
        assert {r.reasons for r in rows} == {"[]"}
        # received_at is when the application first arrived: an update leaves it.
        assert {r.received_at for r in rows} == {NOW}


def test_many_decisions_are_recorded_and_the_last_for_an_application_wins(session_factory) -> None:
    applications = [Application(f"A{i}", f"S{i}") for i in range(20)]
    with SqlUnitOfWork(session_factory) as uow:
        uow.states.upsert(Application, applications, on_insert={"received_at": NOW})
        uow.commit()
    with SqlUnitOfWork(session_factory) as uow:
        for i in range(20):
            uow.decisions.record_decision(f"A{i}", Status.BLOCKED, '[{"code": "X"}]', "p1", NOW)
        uow.decisions.record_decision("A3", Status.CLEARED, "[]", "p2", NOW + timedelta(seconds=1))
        uow.commit()
    with session_factory() as session:
        rows = {r.application_id: r for r in session.execute(select(ApplicationRow)).scalars()}
    assert rows["A3"].status is Status.CLEARED and rows["A3"].policy_digest == "p2"
    assert rows["A3"].evaluated_at == NOW + timedelta(seconds=1)
    assert {rows[f"A{i}"].status for i in range(20) if i != 3} == {Status.BLOCKED}


def test_many_revocations_are_recorded(session_factory) -> None:
    with SqlUnitOfWork(session_factory) as uow:
        for i in range(20):
            uow.decisions.add_certificate(
                {"number": f"BP/{i}", "application_id": f"A{i}", "student_id": f"S{i}", "key_id": "k",
                 "issued_at": NOW, "document": "{}", "verification_token_sha256": f"h{i}", "status_index": i}
            )  # fmt: skip
        uow.commit()
    with SqlUnitOfWork(session_factory) as uow:
        for i in range(0, 20, 2):
            uow.decisions.revoke_certificate(f"BP/{i}", NOW + timedelta(days=1), "loan reopened")
        uow.commit()
    with session_factory() as session:
        rows = {r.number: r for r in session.execute(select(CertificateRow)).scalars()}
    assert {n for n, r in rows.items() if r.revoked_at is not None} == {f"BP/{i}" for i in range(0, 20, 2)}
    assert rows["BP/0"].revocation_reason == "loan reopened"
    assert all(r.verification_token for r in rows.values())  # the column default, filled in for each


def test_claiming_event_ids_records_the_new_ones_once_and_returns_only_them(session_factory) -> None:
    with SqlUnitOfWork(session_factory) as uow:
        uow.inbox.remember([("urn:a", "old", "t")], NOW)
        uow.commit()
    entries = [("urn:a", f"e{i}", "t") for i in range(30)] + [("urn:a", "old", "t"), ("urn:a", "e1", "t")]
    with SqlUnitOfWork(session_factory) as uow:
        claimed = uow.inbox.claim(entries, NOW)
        uow.commit()
    assert claimed == {("urn:a", f"e{i}") for i in range(30)}
    with SqlUnitOfWork(session_factory) as uow:
        assert uow.inbox.claim([("urn:a", "e5", "t"), ("urn:b", "e5", "t")], NOW) == {("urn:b", "e5")}
        uow.commit()
    with session_factory() as session:
        assert len(session.execute(select(InboxRow)).all()) == 32
