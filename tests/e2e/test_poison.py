"""No single message stops publication (G12): oversized records, records the broker refuses, far-future stamps."""

from __future__ import annotations

import hashlib
import threading
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from harness import Harness, settings_for
from kafka import KafkaProducer
from timeline import T0

from clearance.demo.eventfactory import EventFactory
from clearance.store.engine import make_engine, make_session_factory
from clearance.store.migrate import upgrade
from clearance.store.unit_of_work import SqlUnitOfWork
from producers.relay import OutboxRelay
from schemas.registry import Topic

pytestmark = pytest.mark.kafka

registrar = EventFactory("urn:registrar:ft", lambda: T0)
central = EventFactory("urn:library:central", lambda: T0)
desk = EventFactory("urn:repository:deposit-desk", lambda: T0)


def _ready(harness: Harness) -> tuple[str, dict]:
    n = uuid.uuid4().hex[:8]
    student = f"S{n}"
    harness.publish_applied(
        central.patron_linked("central", f"P{n}", student),
        desk.deposit_submitted(f"DEP-{n}", student, "Skripsi"),
        desk.deposit_accepted(f"DEP-{n}", student, time=T0 + timedelta(hours=1)),
    )
    application = registrar.application_submitted(f"APP-{n}", student, full_name="Siti", faculty="Teknik",
                                                  program="Sipil", time=T0 + timedelta(days=1))  # fmt: skip
    return student, application


def test_a_dead_letter_too_large_to_publish_whole_is_cut_and_a_certificate_behind_it_follows(
    shared_service: Harness,
) -> None:
    key, value = b"K" * 148_400, b"\xff" * 900_000  # not JSON: a dead letter as large as the record
    big = KafkaProducer(bootstrap_servers=shared_service.settings.kafka_bootstrap_servers, max_request_size=4_000_000)
    big.send(shared_service.settings.topic(Topic.CIRCULATION), key=key, value=value).get(timeout=30)
    big.close()
    student, application = _ready(shared_service)
    shared_service.publish(application)
    shared_service.wait_for(lambda _: shared_service.certificates(student), timeout=30, what="the certificate")
    [letter] = shared_service.wait_for(
        lambda received: [r for r in received if r.topic is Topic.DEAD_LETTER and r.headers.get("key-sha256")],
        what="the cut dead letter",
    )
    # The key is an id, not a payload: it is what is cut, and the value travels whole.
    assert letter.headers["key-sha256"].decode() == hashlib.sha256(key).hexdigest()
    assert letter.key == key[:1024] and letter.value == value
    assert int(letter.headers["dead-letter-id"]) > 0
    assert len(letter.key or b"") + len(letter.value or b"") < 1_048_576


def test_a_record_over_the_inbound_limit_is_dead_lettered_as_too_large(shared_service: Harness) -> None:
    value = b"{" + b" " * 1_100_000 + b"}"
    big = KafkaProducer(bootstrap_servers=shared_service.settings.kafka_bootstrap_servers, max_request_size=4_000_000)
    big.send(shared_service.settings.topic(Topic.DEPOSITS), key=b"S-big", value=value).get(timeout=30)
    big.close()
    shared_service.wait_for(
        lambda received: [r for r in received if r.topic is Topic.DEAD_LETTER and r.key == b"S-big"
                          and r.headers["error-kind"] == b"too-large"],
        what="a too-large dead letter",
    )  # fmt: skip


def test_a_row_the_broker_refuses_for_good_is_set_aside_and_the_rows_behind_it_are_published(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'relay.db'}"
    upgrade(url)
    settings = settings_for(kafka_bootstrap, url, tmp_path)
    engine = make_engine(url)
    sessions = make_session_factory(engine)
    now = datetime.now(UTC)
    with SqlUnitOfWork(sessions) as uow:
        for event_id, value in (("too-big", b"x" * 2_000_000), ("behind", b"{}")):
            uow.outbox.add({"event_id": event_id, "topic": Topic.STATUS.value, "key": b"S1", "value": value,
                            "headers": "[]", "type": "clearance.status.changed", "created_at": now})  # fmt: skip
        uow.commit()
    relay = OutboxRelay(settings, sessions, threading.Event())
    relay.producer = relay._producer()
    try:
        assert relay.relay_once() == 1
    finally:
        relay.producer.close()
    with SqlUnitOfWork(sessions) as uow:
        [aside] = uow.outbox.set_aside_rows()
        assert aside.event_id == "too-big" and "MessageSizeTooLarge" in (aside.set_aside_reason or "")
        assert uow.outbox.unpublished(10) == []
    engine.dispose()
