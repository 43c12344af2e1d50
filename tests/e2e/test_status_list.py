"""The running service keeps the credentials' status list current: a revocation is in it within seconds."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from harness import Harness
from timeline import T0

from clearance.demo.eventfactory import EventFactory
from clearance.documents.status_list import decode, is_set, place
from clearance.store.unit_of_work import SqlUnitOfWork
from clearance.verification import register, status_lists

pytestmark = pytest.mark.kafka

registrar = EventFactory("urn:registrar:ft", lambda: T0)
central = EventFactory("urn:library:central", lambda: T0)
desk = EventFactory("urn:repository:deposit-desk", lambda: T0)


def test_a_revocation_reaches_the_signed_status_list_without_anyone_running_a_command(
    shared_service: Harness,
) -> None:
    n = uuid.uuid4().hex[:8]
    student, application = f"S{n}", f"APP-{n}"
    shared_service.publish_applied(
        central.patron_linked("central", f"P{n}", student),
        desk.deposit_submitted(f"D{n}", student, "Skripsi"),
        desk.deposit_accepted(f"D{n}", student, time=T0 + timedelta(hours=1)),
    )
    shared_service.publish(registrar.application_submitted(application, student, full_name="Siti", faculty="Teknik",
                                                           program="Sipil", time=T0 + timedelta(days=1)))  # fmt: skip
    [issued] = shared_service.wait_for(lambda _: shared_service.certificates(student), what="the certificate")
    number = issued["certificate"]["number"]
    shared_service.publish(registrar.application_withdrawn(application, student, time=T0 + timedelta(days=2)))
    shared_service.wait_for(lambda _: shared_service.revocations(application), what="the revocation")
    settings = shared_service.settings
    sessions = shared_service.services[0].session_factory

    def revoked_in_the_list(_: object) -> bool:
        with SqlUnitOfWork(sessions) as uow:
            record = register.find(uow.session, number)
            assert record is not None and record.status_index is not None
            list_number, position = place(record.status_index, settings.status_list_bits)
            credential = status_lists.stored(uow.session, list_number)
        if credential is None:
            return False
        return is_set(decode(credential["credentialSubject"]["encodedList"]), position)

    shared_service.wait_for(revoked_in_the_list, timeout=40, what="the revocation in the signed status list")
