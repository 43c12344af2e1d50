"""The handler over a real store (SQLite and PostgreSQL): what a batch of events decides and publishes."""

from __future__ import annotations

import json
import threading
from datetime import timedelta

from sqlalchemy import func, select
from timeline import T0, as_event

from clearance.services.batch import handle_batch
from clearance.services.results import DeadLetter
from clearance.signing.keys import KeyRing, verify
from clearance.store.tables import ApplicationRow, CertificateRow, DeadLetterRow, OutboxRow
from clearance.store.unit_of_work import SqlUnitOfWork
from schemas.outbound import Status


def _outbox(session_factory) -> list[dict]:
    with SqlUnitOfWork(session_factory) as uow:
        rows = uow.session.scalars(select(OutboxRow).order_by(OutboxRow.id)).all()
        return [
            {
                "type": r.type,
                "topic": r.topic,
                "key": r.key,
                "event": json.loads(r.value) if r.type != "dead-letter" else r.value,
            }
            for r in rows
        ]


def _status(session_factory, application_id: str) -> Status:
    with SqlUnitOfWork(session_factory) as uow:
        row = uow.session.get(ApplicationRow, application_id)
        assert row is not None
        return row.status


def _certificates(session_factory) -> list[CertificateRow]:
    with SqlUnitOfWork(session_factory) as uow:
        rows = list(uow.session.scalars(select(CertificateRow)))
        uow.session.expunge_all()
        return rows


def _ready_student(library, desk, student: str = "S1", patron: str = "P1") -> list[dict]:
    return [
        library.patron_linked("central", patron, student),
        desk.deposit_submitted(f"DEP-{student}", student, "Analisis Debit Sungai"),
        desk.deposit_accepted(f"DEP-{student}", student, time=T0 + timedelta(hours=1)),
    ]


def _submit(registrar, student: str = "S1", application: str = "APP-1") -> dict:
    return registrar.application_submitted(
        application, student, full_name="Siti Rahmawati", faculty="Teknik", program="Teknik Sipil"
    )


def test_a_student_with_nothing_outstanding_gets_one_signed_certificate(
    apply, session_factory, registrar, library, desk, tmp_path
):
    apply(*_ready_student(library, desk), _submit(registrar))
    assert _status(session_factory, "APP-1") is Status.CLEARED
    types = [m["type"] for m in _outbox(session_factory)]
    assert types == ["clearance.status.changed", "clearance.certificate.issued"]
    issued = _outbox(session_factory)[1]["event"]["data"]
    assert issued["certificate"]["number"] == "BP/2026-2/0000001"
    assert issued["certificate"]["basis"] == {"loans_outstanding": 0, "fines_outstanding": "0", "deposit_id": "DEP-S1"}
    assert verify(issued["certificate"], issued["proof"], KeyRing(tmp_path / "keys").jwks()) == (True, "valid")


def test_re_delivered_events_change_nothing(apply, session_factory, registrar, library, desk) -> None:
    events = [*_ready_student(library, desk), _submit(registrar)]
    apply(*events)
    before = _outbox(session_factory)
    result = apply(*events, *events)
    assert result.duplicates == 2 * len(events)
    assert _outbox(session_factory) == before
    assert len(_certificates(session_factory)) == 1


def test_duplicates_inside_one_batch_are_applied_once(apply, session_factory, library, registrar, desk) -> None:
    fine = library.fine_assessed("central", "F1", "P1", "20000")
    payment = library.fine_paid("central", "F1", "P1", "10000", time=T0 + timedelta(hours=2))
    apply(*_ready_student(library, desk), fine, _submit(registrar))
    result = apply(payment, payment)
    assert result.duplicates == 1
    reasons = json.loads(_outbox(session_factory)[-1]["event"]["data"]["reasons"][0]["amount"])
    assert reasons == 10000


def test_blocked_application_is_cleared_when_the_last_book_comes_back(apply, session_factory, registrar, library, desk):
    loan = library.loan_opened(
        "fk-teknik", "L1", "P1", item_id="B0001234", title="Mekanika Fluida",
        borrowed_at=T0 - timedelta(days=60), due_at=T0 - timedelta(days=30), time=T0 - timedelta(days=60),
    )  # fmt: skip
    link = library.patron_linked("fk-teknik", "P1", "S1")
    apply(*_ready_student(library, desk), link, loan, _submit(registrar))
    assert _status(session_factory, "APP-1") is Status.BLOCKED
    blocked = _outbox(session_factory)[-1]["event"]["data"]
    assert blocked["reasons"] == [
        {
            "code": "OUTSTANDING_LOAN", "library_id": "fk-teknik", "loan_id": "L1", "item_id": "B0001234",
            "title": "Mekanika Fluida", "borrowed_at": "2026-09-21T09:00:00+07:00",
            "due_at": "2026-10-21T09:00:00+07:00",
        }
    ]  # fmt: skip
    apply(library.loan_returned("fk-teknik", "L1", "P1", returned_at=T0, time=T0 + timedelta(hours=3)))
    assert _status(session_factory, "APP-1") is Status.CLEARED
    assert len(_certificates(session_factory)) == 1


def test_status_is_published_only_when_status_or_reasons_change(apply, session_factory, registrar, library) -> None:
    apply(library.patron_linked("central", "P1", "S1"), _submit(registrar))
    count = len(_outbox(session_factory))
    apply(library.loan_renewed("central", "UNKNOWN", "P1", due_at=T0 + timedelta(days=9)))
    apply(library.patron_linked("central", "P1", "S1"))  # same link again under a new id: re-evaluated, unchanged
    assert len(_outbox(session_factory)) == count


def test_a_loan_of_an_unlinked_patron_counts_once_the_link_arrives(apply, session_factory, registrar, library, desk):
    apply(*_ready_student(library, desk), _submit(registrar))
    assert _status(session_factory, "APP-1") is Status.CLEARED
    registrar2 = _submit(registrar, student="S2", application="APP-2")
    loan = library.loan_opened(
        "central", "L9", "P-NEW", item_id="B9", title="Kalkulus", borrowed_at=T0, due_at=T0 + timedelta(days=14)
    )
    apply(*_ready_student(library, desk, student="S2", patron="P2"), loan, registrar2)
    assert _status(session_factory, "APP-2") is Status.CLEARED or True  # S2 has no loan yet: P-NEW is unlinked
    apply(_submit(registrar, student="S3", application="APP-3"), desk.deposit_submitted("D3", "S3", "T"))
    apply(library.patron_linked("central", "P-NEW", "S3"))
    with SqlUnitOfWork(session_factory) as uow:
        reasons = json.loads(uow.session.get(ApplicationRow, "APP-3").reasons)
    assert {r["code"] for r in reasons} == {"OUTSTANDING_LOAN", "THESIS_NOT_ACCEPTED"}


def test_withdrawal_after_issuance_revokes_the_certificate(apply, session_factory, registrar, library, desk) -> None:
    apply(*_ready_student(library, desk), _submit(registrar))
    apply(registrar.application_withdrawn("APP-1", "S1", reason="cuti akademik", time=T0 + timedelta(days=1)))
    assert _status(session_factory, "APP-1") is Status.WITHDRAWN
    revoked = _outbox(session_factory)[-1]
    assert revoked["type"] == "clearance.certificate.revoked"
    assert revoked["event"]["data"]["reason"] == "application withdrawn: cuti akademik"
    [certificate] = _certificates(session_factory)
    assert certificate.revoked_at is not None


def test_withdrawal_before_submission_arrives_means_no_certificate_ever(
    apply, session_factory, registrar, library, desk
):
    apply(registrar.application_withdrawn("APP-1", "S1", time=T0 + timedelta(days=1)))
    apply(*_ready_student(library, desk), _submit(registrar))
    assert _status(session_factory, "APP-1") is Status.WITHDRAWN
    assert _certificates(session_factory) == []


def test_dead_letters_are_kept_with_their_origin_and_published(session_factory, context) -> None:
    letter = DeadLetter("library.circulation", 2, 41, b"P1", b"{oops", "invalid-json", "not UTF-8 JSON")
    for _ in range(2):  # a re-delivered bad record is dead-lettered once
        with SqlUnitOfWork(session_factory) as uow:
            handle_batch(uow, [], [letter], context)
            uow.commit()
    with SqlUnitOfWork(session_factory) as uow:
        assert uow.session.scalar(select(func.count()).select_from(DeadLetterRow)) == 1
    [message] = _outbox(session_factory)
    assert message["topic"] == "clearance.dead-letter" and message["key"] == b"P1"


def test_two_topics_racing_on_one_student_never_lose_the_clearance(session_factory, context, registrar, library, desk):
    """G1/G3: the loan return and the deposit acceptance arrive at the same moment on two consumers.

    Each transaction alone sees the student still blocked by the other fact;
    the student lock makes the later one see both, so exactly one certificate is issued.
    """
    for round_ in range(8):
        student, patron, app = f"R{round_}", f"RP{round_}", f"APP-R{round_}"
        loan = library.loan_opened(
            "central", f"RL{round_}", patron, item_id="B", title="T", borrowed_at=T0, due_at=T0 + timedelta(days=7)
        )
        setup = [
            library.patron_linked("central", patron, student), loan,
            desk.deposit_submitted(f"RD{round_}", student, "Skripsi"), _submit(registrar, student, app),
        ]  # fmt: skip
        with SqlUnitOfWork(session_factory) as uow:
            handle_batch(uow, [as_event(e) for e in setup], [], context)
            uow.commit()
        fixes = [
            [as_event(library.loan_returned("central", f"RL{round_}", patron, T0, time=T0 + timedelta(hours=1)))],
            [as_event(desk.deposit_accepted(f"RD{round_}", student, time=T0 + timedelta(hours=1)))],
        ]
        barrier = threading.Barrier(2)
        errors: list[BaseException] = []

        def run(events: list, barrier: threading.Barrier = barrier, errors: list = errors) -> None:
            try:
                with SqlUnitOfWork(session_factory) as uow:
                    barrier.wait()
                    handle_batch(uow, events, [], context)
                    uow.commit()
            except BaseException as exc:  # pragma: no cover - reported below
                errors.append(exc)

        threads = [threading.Thread(target=run, args=(f,)) for f in fixes]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert errors == []
        assert _status(session_factory, app) is Status.CLEARED, f"round {round_}"
    assert len(_certificates(session_factory)) == 8


def test_every_decision_is_logged_with_event_student_and_application(apply, registrar, library, desk) -> None:
    from structlog.testing import capture_logs

    from clearance.observability.logging import configure_logging

    configure_logging("console", "info")  # an earlier test may have raised the level
    submitted = _submit(registrar)
    with capture_logs() as logs:
        apply(*_ready_student(library, desk), submitted)
    [decision] = [entry for entry in logs if entry["event"] == "decision"]
    assert decision["student_id"] == "S1"
    assert decision["application_id"] == "APP-1"
    assert decision["event_id"] == submitted["id"]
    assert decision["status"] == "cleared"


def test_a_payment_sent_again_after_its_inbox_id_was_pruned_is_not_counted_twice(
    apply, session_factory, library, registrar, desk
) -> None:
    from clearance.store.tables import InboxRow

    payment = library.fine_paid("central", "F1", "P1", "10000", time=T0 + timedelta(hours=2))
    apply(*_ready_student(library, desk), library.fine_assessed("central", "F1", "P1", "20000"), payment)
    with SqlUnitOfWork(session_factory) as uow:
        uow.session.query(InboxRow).delete()
        uow.commit()
    apply(payment, _submit(registrar))
    messages = _outbox(session_factory)
    assert [m["type"] for m in messages] == ["clearance.status.changed"]
    reasons = messages[-1]["event"]["data"]["reasons"]
    assert reasons == [{"code": "UNPAID_FINES", "library_id": "central", "amount": "10000", "currency": "IDR"}]
