"""G7 end to end: a hostile stream on every inbound topic; bad messages dead-lettered, good ones processed."""

from __future__ import annotations

import json
import random
from datetime import timedelta

import pytest
from harness import Harness
from kafka import KafkaProducer
from sqlalchemy import select
from timeline import T0

from clearance.demo.eventfactory import EventFactory, record_of, topic_of
from clearance.store.tables import DeadLetterRow
from clearance.store.unit_of_work import SqlUnitOfWork
from schemas.registry import Topic

pytestmark = pytest.mark.kafka

registrar = EventFactory("urn:registrar:ft", lambda: T0)
central = EventFactory("urn:library:central", lambda: T0)
desk = EventFactory("urn:repository:deposit-desk", lambda: T0)
NAMES = ["ꦱꦶꦠꦶ Rahmawati", "O'Brien Siregar", "Siti 🎓", "Sukarno"]


def _hostile(rng: random.Random) -> list[bytes | None]:
    good = central.patron_linked("central", "P", "S")
    samples: list[bytes | None] = [
        None, b"", b"\x00\xff\xfe", b"{", b"[]", b"null", b'"a string"', b"{}",
        b"[" * 50_000 + b"]" * 50_000,
        json.dumps({**good, "specversion": "0.3"}).encode(),
        json.dumps({**good, "type": "library.book.eaten"}).encode(),
        json.dumps({**good, "time": 1764000000}).encode(),
        json.dumps({**good, "data": {"patron_id": 7, "library_id": [], "student_id": None}}).encode(),
        json.dumps({**good, "data": {**good["data"], "patron_id": "x" * 100_000}}).encode(),
        json.dumps({**good, "id": "\\ud800"}).encode().replace(b"\\\\ud800", b"\\ud800"),
        json.dumps({**good, "data": {**good["data"], "student_id": "a\u0000b"}}).encode(),
        json.dumps({**good, "type": "graduation.application.submitted"}).encode(),  # wrong topic
    ]  # fmt: skip
    samples += [rng.randbytes(rng.randrange(1, 300)) for _ in range(40)]
    valid = json.dumps(good).encode()
    samples += [valid[: rng.randrange(1, len(valid) - 1)] for _ in range(40)]  # truncated JSON
    return samples


def test_a_hostile_stream_never_stops_the_service(harness: Harness) -> None:
    service = harness.start()
    rng = random.Random(7)
    producer = KafkaProducer(bootstrap_servers=harness.settings.kafka_bootstrap_servers, acks="all",
                             max_request_size=16 * 1024 * 1024)  # fmt: skip
    bad_origins: set[tuple[str, int, int]] = set()
    good_events = []
    students = []
    for i, name in enumerate(NAMES):
        student, patron = f"H{i}", f"HP{i}"
        students.append((student, f"APP-H{i}", name))
        good_events += [
            central.patron_linked("central", patron, student),
            desk.deposit_submitted(f"HD{i}", student, "Skripsi"),
            desk.deposit_accepted(f"HD{i}", student, time=T0 + timedelta(hours=1)),
        ]
    topics = [Topic.APPLICATIONS, Topic.CIRCULATION, Topic.DEPOSITS]
    hostile = _hostile(rng)
    huge_event = {**central.patron_linked("central", "P", "S"), "data": {"title": "ꦱ" * 3_500_000}}
    huge = json.dumps(huge_event, ensure_ascii=False)
    huge = huge.encode()
    hostile.append(huge)  # about 10 MB
    assert len(huge) > 10_000_000
    for n, value in enumerate(hostile):
        topic = harness.settings.topic(topics[n % 3])
        sent = producer.send(topic, key=f"bad-{n}".encode(), value=value).get(timeout=30)
        bad_origins.add((topic, sent.partition, sent.offset))
        if n % 25 == 0 and good_events:
            event = good_events.pop(0)
            key, value = record_of(event)
            producer.send(harness.settings.topic(topic_of(event)), key=key, value=value).get(timeout=30)
    for event in good_events:
        key, value = record_of(event)
        producer.send(harness.settings.topic(topic_of(event)), key=key, value=value).get(timeout=30)
    producer.flush()
    harness.publish(*(
        registrar.application_submitted(app, student, full_name=name, faculty="Teknik", program="Sipil",
                                        time=T0 + timedelta(days=1))
        for student, app, name in students
    ))  # fmt: skip

    harness.wait_for(lambda _: len(harness.certificates()) == len(NAMES), timeout=90, what="the good students")
    issued = {c["certificate"]["student_id"]: c["certificate"]["full_name"] for c in harness.certificates()}
    assert issued == {student: name for student, _, name in students}

    harness.wait_for(lambda _: len(harness.dead_letters()) >= len(bad_origins), timeout=90, what="every dead letter")
    with SqlUnitOfWork(service.session_factory) as uow:
        rows = uow.session.scalars(select(DeadLetterRow))
        stored = {(r.origin_topic, r.origin_partition, r.origin_offset): (r.error_kind, r.error_message) for r in rows}
    assert set(stored) == bad_origins
    assert all(kind and message for kind, message in stored.values())
    published = {
        (r.headers["origin-topic"].decode(), int(r.headers["origin-partition"]), int(r.headers["origin-offset"])): r
        for r in harness.dead_letters()
    }
    assert set(published) == bad_origins
    truncated = [r for r in published.values() if "value-length" in r.headers]
    assert [int(r.headers["value-length"]) for r in truncated] == [len(huge)]
    assert [r.headers["error-kind"] for r in truncated] == [b"too-large"]
    assert all(t.is_alive() for t in service.threads)
