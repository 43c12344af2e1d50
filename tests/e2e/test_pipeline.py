"""The pipeline end to end over a real broker: events in as outside systems send them, decisions out.

Every scenario uses its own students on one shared running service.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from harness import Harness
from timeline import T0

from clearance.demo.eventfactory import EventFactory
from clearance.signing.keys import KeyRing, verify
from schemas.registry import Topic

pytestmark = pytest.mark.kafka

registrar = EventFactory("urn:registrar:ft", lambda: T0)
central = EventFactory("urn:library:central", lambda: T0)
teknik = EventFactory("urn:library:fk-teknik", lambda: T0)
desk = EventFactory("urn:repository:deposit-desk", lambda: T0)


def _ids() -> tuple[str, str, str]:
    n = uuid.uuid4().hex[:8]
    return f"S{n}", f"APP-{n}", f"P{n}"


def _apply(student: str, application: str, degree: str = "S1") -> dict:
    return registrar.application_submitted(
        application, student, full_name="Siti Rahmawati", faculty="Teknik", program="Teknik Sipil",
        degree_level=degree, time=T0 + timedelta(days=2),
    )  # fmt: skip


def _deposited(student: str) -> list[dict]:
    return [
        desk.deposit_submitted(f"DEP-{student}", student, "Analisis Debit Sungai Brantas"),
        desk.deposit_accepted(f"DEP-{student}", student, repository_id="hdl:123/456", time=T0 + timedelta(hours=3)),
    ]


def _loan(factory: EventFactory, library: str, loan: str, patron: str, **kw) -> dict:
    return factory.loan_opened(
        library, loan, patron, item_id=f"B-{loan}", title="Mekanika Fluida",
        borrowed_at=T0 - timedelta(days=40), due_at=T0 - timedelta(days=10), time=T0 - timedelta(days=40), **kw,
    )  # fmt: skip


def test_a_clear_student_gets_a_signed_certificate_keyed_by_student_id(shared_service: Harness) -> None:
    student, application, patron = _ids()
    shared_service.publish_applied(central.patron_linked("central", patron, student), *_deposited(student))
    shared_service.publish(_apply(student, application))
    [issued] = shared_service.wait_for(lambda _: shared_service.certificates(student), what="certificate")
    certificate = issued["certificate"]
    assert certificate["application_id"] == application
    assert certificate["basis"] == {"loans_outstanding": 0, "fines_outstanding": "0", "deposit_id": f"DEP-{student}"}
    assert certificate["number"].startswith("BP/2026-2/")
    jwks = KeyRing(shared_service.settings.key_dir).jwks()
    assert verify(certificate, issued["proof"], jwks) == (True, "valid")
    record = next(
        r for r in shared_service.received if r.type == "clearance.certificate.issued" and r.key == student.encode()
    )
    assert record.headers["content-type"] == b"application/cloudevents+json"
    assert record.event["specversion"] == "1.0" and record.event["subject"] == student
    assert shared_service.status(application) == "cleared"


def test_blocked_then_cleared_without_anyone_touching_it(shared_service: Harness) -> None:
    student, application, patron = _ids()
    shared_service.publish_applied(
        teknik.patron_linked("fk-teknik", patron, student), _loan(teknik, "fk-teknik", f"L{patron}", patron),
        *_deposited(student),
    )  # fmt: skip
    shared_service.publish(_apply(student, application))
    shared_service.wait_for(shared_service.reached(application, "blocked"), what="blocked")
    [reason] = shared_service.statuses(application)[-1]["reasons"]
    assert reason["code"] == "OUTSTANDING_LOAN" and reason["library_id"] == "fk-teknik"
    assert reason["due_at"] == "2026-11-10T09:00:00+07:00"
    shared_service.publish(teknik.loan_returned("fk-teknik", f"L{patron}", patron, T0, time=T0 + timedelta(days=3)))
    shared_service.wait_for(lambda _: shared_service.certificates(student), what="certificate after return")
    assert shared_service.status(application) == "cleared"


def test_duplicated_events_issue_one_certificate_and_count_payments_once(shared_service: Harness) -> None:
    student, application, patron = _ids()
    fine = central.fine_assessed("central", f"F{patron}", patron, "30000", time=T0)
    half = central.fine_paid("central", f"F{patron}", patron, "15000", time=T0 + timedelta(days=1))
    events = [central.patron_linked("central", patron, student), fine, half, *_deposited(student)]
    shared_service.publish_applied(*events, *events)
    shared_service.publish(_apply(student, application), _apply(student, application))
    shared_service.wait_for(shared_service.reached(application, "blocked"), what="blocked on the unpaid half")
    [reason] = shared_service.statuses(application)[-1]["reasons"]
    assert reason == {"code": "UNPAID_FINES", "library_id": "central", "amount": "15000", "currency": "IDR"}
    rest = central.fine_paid("central", f"F{patron}", patron, "15000", time=T0 + timedelta(days=2))
    shared_service.publish(rest, rest, rest)
    shared_service.wait_for(lambda _: shared_service.certificates(student), what="certificate")
    shared_service.publish(rest, _apply(student, application))
    shared_service.settle(2)
    assert len(shared_service.certificates(student)) == 1
    # The freshness gate may hold a decision while repeats of a record are still unread in its
    # partition (status pending, SOURCE_NOT_CURRENT): a hold, not a decision. Each decision is published once.
    history = shared_service.statuses(application)
    decided = [s["status"] for s in history if [r["code"] for r in s["reasons"]] != ["SOURCE_NOT_CURRENT"]]
    assert decided == ["blocked", "cleared"]


def test_a_return_that_arrives_before_its_loan_clears_the_loan(shared_service: Harness) -> None:
    student, application, patron = _ids()
    loan_id = f"L{patron}"
    returned = central.loan_returned("central", loan_id, patron, T0, time=T0 - timedelta(days=1))
    shared_service.publish_applied(central.patron_linked("central", patron, student), returned, *_deposited(student))
    shared_service.publish_applied(_loan(central, "central", loan_id, patron))  # older fact, later arrival
    shared_service.publish(_apply(student, application))
    shared_service.wait_for(lambda _: shared_service.certificates(student), what="certificate")
    assert shared_service.statuses(application)[0]["status"] == "cleared"


def test_a_loan_of_a_patron_linked_later_counts_once_the_link_arrives(shared_service: Harness) -> None:
    student, application, patron = _ids()
    loan_id = f"L{patron}"
    shared_service.publish_applied(
        _loan(central, "central", loan_id, patron), desk.deposit_submitted(f"DEP-{student}", student, "Skripsi")
    )
    shared_service.publish(_apply(student, application))
    shared_service.wait_for(shared_service.reached(application, "blocked"), what="blocked on the deposit")
    assert [r["code"] for r in shared_service.statuses(application)[-1]["reasons"]] == ["THESIS_NOT_ACCEPTED"]
    shared_service.publish_applied(central.patron_linked("central", patron, student, time=T0 + timedelta(days=3)))
    shared_service.publish(desk.deposit_accepted(f"DEP-{student}", student, time=T0 + timedelta(days=3)))
    shared_service.wait_for(
        lambda _: [r["code"] for r in shared_service.statuses(application)[-1]["reasons"]] == ["OUTSTANDING_LOAN"],
        what="the loan stored before the link to block",
    )
    shared_service.publish(central.loan_returned("central", loan_id, patron, T0, time=T0 + timedelta(days=4)))
    shared_service.wait_for(lambda _: shared_service.certificates(student), what="certificate")


def test_an_interlibrary_loan_blocks_like_any_other(shared_service: Harness) -> None:
    student, application, patron = _ids()
    shared_service.publish_applied(
        central.patron_linked("central", patron, student),
        _loan(central, "central", f"ILL{patron}", patron, interlibrary=True),
        *_deposited(student),
    )
    shared_service.publish(_apply(student, application))
    shared_service.wait_for(shared_service.reached(application, "blocked"), what="blocked")
    [reason] = shared_service.statuses(application)[-1]["reasons"]
    assert reason["interlibrary"] is True and reason["code"] == "OUTSTANDING_LOAN"


def test_a_rejected_deposit_blocks_until_it_is_accepted(shared_service: Harness) -> None:
    student, application, patron = _ids()
    dep = f"DEP-{student}"
    shared_service.publish_applied(
        central.patron_linked("central", patron, student),
        desk.deposit_submitted(dep, student, "Skripsi"),
        desk.deposit_rejected(dep, student, "abstrak belum diterjemahkan", time=T0 + timedelta(hours=1)),
    )
    shared_service.publish(_apply(student, application))
    shared_service.wait_for(shared_service.reached(application, "blocked"), what="blocked")
    [reason] = shared_service.statuses(application)[-1]["reasons"]
    assert reason["code"] == "THESIS_REJECTED" and reason["deposit_state"] == "rejected"
    shared_service.publish(
        desk.deposit_submitted(dep, student, "Skripsi (revisi)", time=T0 + timedelta(days=3)),
        desk.deposit_accepted(dep, student, time=T0 + timedelta(days=4)),
    )
    shared_service.wait_for(lambda _: shared_service.certificates(student), what="certificate")


def test_lost_item_and_missing_deposit_are_reported_together(shared_service: Harness) -> None:
    student, application, patron = _ids()
    loan = f"L{patron}"
    shared_service.publish_applied(
        central.patron_linked("central", patron, student),
        _loan(central, "central", loan, patron),
        central.loan_lost("central", loan, patron, time=T0),
    )
    shared_service.publish(_apply(student, application))
    shared_service.wait_for(shared_service.reached(application, "blocked"), what="blocked")
    codes = sorted(r["code"] for r in shared_service.statuses(application)[-1]["reasons"])
    assert codes == ["LOST_ITEM", "THESIS_NOT_DEPOSITED"]


def test_withdrawal_before_issuance_means_no_certificate(shared_service: Harness) -> None:
    student, application, patron = _ids()
    shared_service.publish_applied(
        central.patron_linked("central", patron, student), _loan(central, "central", "W", patron)
    )
    shared_service.publish(_apply(student, application))
    shared_service.wait_for(shared_service.reached(application, "blocked"), what="blocked")
    shared_service.publish(registrar.application_withdrawn(application, student, "pindah", time=T0 + timedelta(days=3)))
    shared_service.wait_for(shared_service.reached(application, "withdrawn"), what="withdrawn")
    shared_service.publish(*_deposited(student), central.loan_returned("central", "W", patron, T0 + timedelta(days=4)))
    shared_service.settle(2)
    assert shared_service.certificates(student) == []
    assert shared_service.status(application) == "withdrawn"


def test_withdrawal_after_issuance_publishes_a_revocation(shared_service: Harness) -> None:
    student, application, patron = _ids()
    shared_service.publish_applied(central.patron_linked("central", patron, student), *_deposited(student))
    shared_service.publish(_apply(student, application))
    [issued] = shared_service.wait_for(lambda _: shared_service.certificates(student), what="certificate")
    shared_service.publish(registrar.application_withdrawn(application, student, time=T0 + timedelta(days=3)))
    [revoked] = shared_service.wait_for(lambda _: shared_service.revocations(application), what="revocation")
    assert revoked["number"] == issued["certificate"]["number"]
    assert revoked["reason"] == "application withdrawn"
    assert shared_service.status(application) == "withdrawn"


def test_a_malformed_message_is_dead_lettered_and_the_stream_goes_on(shared_service: Harness) -> None:
    student, application, patron = _ids()
    shared_service.publish_raw(Topic.CIRCULATION, patron.encode(), b'{"specversion": "1.0", "id": ')
    bad_amount = central.fine_assessed("central", "F-bad", patron, "15000")
    bad_amount["data"]["amount"] = 15000
    shared_service.publish(bad_amount)
    shared_service.publish_applied(central.patron_linked("central", patron, student), *_deposited(student))
    shared_service.publish(_apply(student, application))
    shared_service.wait_for(lambda _: shared_service.certificates(student), what="good events behind the bad ones")
    letters = [r for r in shared_service.dead_letters() if r.key == patron.encode()]
    kinds = {r.headers["error-kind"] for r in letters}
    assert kinds == {b"invalid-json", b"schema"}
    for letter in letters:
        assert letter.headers["origin-topic"] == shared_service.settings.topic(Topic.CIRCULATION).encode()
        assert int(letter.headers["origin-offset"]) >= 0 and int(letter.headers["origin-partition"]) >= 0
        assert letter.headers["error-message"]
    assert {r.value for r in letters} >= {b'{"specversion": "1.0", "id": '}
