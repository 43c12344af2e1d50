"""The consumer loop without a broker: a real store (SQLite), a stand-in for kafka-python's consumer.

What is shown here is the loop's own logic: which positions it stores with
which records, what it dead-letters and what it waits out. The loop over a
real broker is in tests/e2e and tests/faults.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from kafka import TopicPartition
from sqlalchemy import select
from sqlalchemy.exc import OperationalError
from timeline import T0

import consumers.loop as loop_module
from clearance.config.policy_file import load_policy
from clearance.demo.eventfactory import EventFactory
from clearance.domain.freshness import SourceOffsets
from clearance.doorbell import Doorbell
from clearance.services.results import Context
from clearance.settings import Settings
from clearance.signing.keys import SigningKey
from clearance.store.engine import make_engine, make_session_factory
from clearance.store.migrate import upgrade
from clearance.store.tables import CertificateRow, DeadLetterRow
from clearance.store.unit_of_work import SqlUnitOfWork
from consumers.loop import ConsumerLoop
from schemas.registry import Topic

library = EventFactory("urn:library:central", lambda: T0)
registrar = EventFactory("urn:registrar:ft", lambda: T0)
desk = EventFactory("urn:repository:deposit-desk", lambda: T0)


@dataclass
class Record:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None


@dataclass
class Consumer:
    """What the loop asks of kafka-python's KafkaConsumer in ``process``."""

    committed: list[dict] = field(default_factory=list)
    sought: list[tuple[int, int]] = field(default_factory=list)

    def commit(self, offsets: dict) -> None:
        self.committed.append({tp.partition: meta.offset for tp, meta in offsets.items()})

    def seek(self, tp: TopicPartition, offset: int) -> None:
        self.sought.append((tp.partition, offset))

    def assignment(self) -> set[TopicPartition]:
        return set()


class CurrentSources:
    """Source topics with nothing unapplied: the freshness gate lets every decision through."""

    def snapshot(self) -> SourceOffsets:
        return SourceOffsets(end_offsets={})

    def close(self) -> None:
        return None


@pytest.fixture
def store(tmp_path: Path):
    url = f"sqlite:///{tmp_path / 'loop.db'}"
    upgrade(url)
    engine = make_engine(url)
    yield make_session_factory(engine)
    engine.dispose()


def _context(signing_key: Any) -> Context:
    policy = load_policy(None)
    return Context(policy=lambda: policy, signing_key=signing_key, clock=lambda: T0 + timedelta(days=4),
                   issuer="urn:library:central")  # fmt: skip


def _loop(store, topic: Topic, context: Context, doorbell: Doorbell | None = None, **settings: Any) -> ConsumerLoop:
    loop = ConsumerLoop(Settings(retry_initial_seconds=0.001, retry_max_seconds=0.002, **settings), topic, store,
                        context, threading.Event(), doorbell=doorbell)  # fmt: skip
    loop.offsets = CurrentSources()  # type: ignore[assignment]
    return loop


def _batch(topic: Topic, events: list[dict]) -> dict[TopicPartition, list[Record]]:
    records = [Record(topic.value, 0, i, e["subject"].encode(), json.dumps(e).encode()) for i, e in enumerate(events)]
    return {TopicPartition(topic.value, 0): records}


def _dead_letters(store) -> list[tuple[int, str]]:
    with SqlUnitOfWork(store) as uow:
        return [(r.origin_offset, r.error_kind) for r in uow.session.scalars(select(DeadLetterRow))]


KEY = SigningKey("test-1", Ed25519PrivateKey.generate())


def test_records_stored_one_by_one_are_stored_with_their_own_position(store, monkeypatch) -> None:
    events = [library.patron_linked("central", f"P{i}", f"S{i}", event_id=f"e{i}") for i in range(10)]
    real = loop_module.handle_batch

    def failing(uow, batch_events, letters, ctx, **kw):
        if len(batch_events) > 1:
            raise RuntimeError("a fault of the whole batch: find the record that causes it")
        if batch_events and batch_events[0].envelope.id == "e8":
            raise OperationalError("INSERT", {}, Exception("the database went away"))
        return real(uow, batch_events, letters, ctx, **kw)

    monkeypatch.setattr(loop_module, "handle_batch", failing)
    loop = _loop(store, Topic.CIRCULATION, _context(lambda: KEY))
    consumer = Consumer()
    assert loop.process(consumer, _batch(Topic.CIRCULATION, events)) is False
    with SqlUnitOfWork(store) as uow:
        # Records 0-7 are stored; 8, a loan for all the gate knows, is not: the position says so.
        assert uow.positions.applied([Topic.CIRCULATION.value]) == {(Topic.CIRCULATION.value, 0): 8}
    assert consumer.committed == []


def test_a_fault_of_the_service_dead_letters_nothing_and_is_waited_out(store) -> None:
    broken = {"on": True}

    def signing_key() -> SigningKey:
        if broken["on"]:
            raise PermissionError("key directory unavailable")
        return KEY

    loop = _loop(store, Topic.APPLICATIONS, _context(signing_key))
    prepare = _loop(store, Topic.CIRCULATION, _context(signing_key))
    deposits = _loop(store, Topic.DEPOSITS, _context(signing_key))
    prepare.process(Consumer(), _batch(Topic.CIRCULATION, [library.patron_linked("central", "P1", "S1")]))
    deposits.process(Consumer(), _batch(Topic.DEPOSITS, [
        desk.deposit_submitted("DEP-1", "S1", "Analisis"),
        desk.deposit_accepted("DEP-1", "S1", time=T0 + timedelta(hours=1)),
    ]))  # fmt: skip
    batch = _batch(Topic.APPLICATIONS, [registrar.application_submitted(
        "APP-1", "S1", full_name="Siti", faculty="Teknik", program="Sipil")])  # fmt: skip
    consumer = Consumer()
    assert loop.process(consumer, batch) is False
    assert _dead_letters(store) == [] and consumer.committed == [] and consumer.sought == [(0, 0)]
    broken["on"] = False
    assert loop.process(consumer, batch) is True
    with SqlUnitOfWork(store) as uow:
        assert [c.application_id for c in uow.session.scalars(select(CertificateRow))] == ["APP-1"]


def test_a_batch_that_writes_to_the_outbox_rings_the_relays_doorbell(store) -> None:
    bell = Doorbell()
    _loop(store, Topic.CIRCULATION, _context(lambda: KEY)).process(
        Consumer(), _batch(Topic.CIRCULATION, [library.patron_linked("central", "P1", "S1")])
    )
    applications = _loop(store, Topic.APPLICATIONS, _context(lambda: KEY), doorbell=bell)
    batch = _batch(Topic.APPLICATIONS, [registrar.application_submitted(
        "APP-1", "S1", full_name="Siti", faculty="Teknik", program="Sipil")])  # fmt: skip
    assert applications.process(Consumer(), batch) is True
    assert bell.wait(timeout=0) is True


def test_a_batch_that_writes_nothing_to_the_outbox_leaves_the_doorbell_quiet(store) -> None:
    bell = Doorbell()
    loop = _loop(store, Topic.CIRCULATION, _context(lambda: KEY), doorbell=bell)
    assert loop.process(Consumer(), _batch(Topic.CIRCULATION, [library.patron_linked("central", "P1", "S1")]))
    assert bell.wait(timeout=0) is False


class RenamedSources:
    """Sources whose circulation topic is made anew under its name between two batches."""

    def __init__(self) -> None:
        self.topic_id = "id-1"

    def snapshot(self) -> SourceOffsets:
        return SourceOffsets(end_offsets={}, topic_ids={Topic.CIRCULATION.value: self.topic_id})

    def close(self) -> None:
        return None


@dataclass
class AssignedConsumer(Consumer):
    rewound: list[TopicPartition] = field(default_factory=list)

    def assignment(self) -> set[TopicPartition]:
        return {TopicPartition(Topic.CIRCULATION.value, 0)}

    def seek_to_beginning(self, *partitions: TopicPartition) -> None:
        self.rewound.extend(partitions)


def test_a_batch_read_when_its_topic_began_anew_is_not_stored_and_the_new_log_is_read_from_its_start(store) -> None:
    loop = _loop(store, Topic.CIRCULATION, _context(lambda: KEY))
    sources = RenamedSources()
    loop.offsets = sources  # type: ignore[assignment]
    consumer = AssignedConsumer()
    first = _batch(Topic.CIRCULATION, [library.patron_linked("central", "P1", "S1", event_id="e1")])
    assert loop.process(consumer, first) is True
    sources.topic_id = "id-2"
    second = _batch(Topic.CIRCULATION, [library.patron_linked("central", "P2", "S2", event_id="e2")])
    assert loop.process(consumer, second) is False
    assert consumer.rewound == [TopicPartition(Topic.CIRCULATION.value, 0)]
    assert len(consumer.committed) == 1
    with SqlUnitOfWork(store) as uow:
        assert uow.inbox.seen([("urn:library:central", "e1"), ("urn:library:central", "e2")]) == {
            ("urn:library:central", "e1")
        }


def test_a_record_over_the_size_limit_is_dead_lettered_as_too_large(store) -> None:
    loop = _loop(store, Topic.CIRCULATION, _context(lambda: KEY), max_record_bytes=4096)
    event = library.patron_linked("central", "P1", "S1")
    batch = _batch(Topic.CIRCULATION, [event])
    record = batch[TopicPartition(Topic.CIRCULATION.value, 0)][0]
    record.key = b"k" * 5000
    assert loop.process(Consumer(), batch) is True
    assert _dead_letters(store) == [(0, "too-large")]


def test_a_snapshot_dated_in_the_future_is_dead_lettered_and_freezes_nothing(store) -> None:
    loop = _loop(store, Topic.CIRCULATION, _context(lambda: KEY))
    snapshot = library.event("library.patron.snapshot", "P1", {
        "patron_id": "P1", "library_id": "central", "as_of": "9999-12-31T00:00:00+07:00", "open_loans": [],
        "fine_balance": "0", "currency": "IDR",
    })  # fmt: skip
    linked = library.patron_linked("central", "P1", "S9", time="9999-01-01T00:00:00+07:00")
    assert loop.process(Consumer(), _batch(Topic.CIRCULATION, [snapshot, linked])) is True
    assert _dead_letters(store) == [(0, "time-in-future"), (1, "time-in-future")]
    with SqlUnitOfWork(store) as uow:
        assert uow.states.students_of_patrons([("central", "P1")]) == {}


def test_a_due_date_in_the_future_is_no_time_in_the_future(store) -> None:
    loop = _loop(store, Topic.CIRCULATION, _context(lambda: KEY))
    loan = library.loan_opened("central", "L1", "P1", item_id="B1", title="Mekanika Fluida", borrowed_at=T0,
                               due_at="2999-01-01T00:00:00+07:00")  # fmt: skip
    assert loop.process(Consumer(), _batch(Topic.CIRCULATION, [loan])) is True
    assert _dead_letters(store) == []


class Recording:
    """An observer that keeps what it was told about positions."""

    def __init__(self) -> None:
        self.not_saved: list[str] = []

    def positions_not_saved(self, topic: str, error: BaseException) -> None:
        self.not_saved.append(topic)

    def __getattr__(self, name: str) -> Any:
        return lambda *args, **kwargs: None


def test_idle_positions_that_cannot_be_stored_are_reported_not_swallowed(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'never-migrated.db'}"  # no tables: the write fails
    engine = make_engine(url)
    loop = _loop(make_session_factory(engine), Topic.CIRCULATION, _context(lambda: KEY))
    loop.observer = Recording()  # type: ignore[assignment]

    class Ids(CurrentSources):
        def topic_ids(self) -> dict:
            return {}

    class Assigned(Consumer):
        def assignment(self) -> set[TopicPartition]:
            return {TopicPartition(Topic.CIRCULATION.value, 0)}

        def position(self, tp: TopicPartition) -> int:
            return 3

    loop.offsets = Ids()  # type: ignore[assignment]
    loop._report_idle_positions(Assigned())
    engine.dispose()
    assert loop.observer.not_saved == [loop.name]  # type: ignore[attr-defined]
