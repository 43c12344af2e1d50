"""Nothing a library or registrar sends stops the stream or freezes a student (G7, G12).

Poison records and far-future stamps are interleaved with a workload whose
outcomes are known; each scenario ends with the invariants of
:func:`faults.workload.check_invariants`, the dead letters among them.
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

import pytest
from faults.workload import Poison, Workload, central, check_invariants, desk
from harness import Harness, settings_for
from kafka import KafkaProducer
from services import fresh_postgres_database
from sqlalchemy import select
from timeline import T0

from clearance.demo.eventfactory import record_of
from clearance.store.engine import make_engine, make_session_factory
from clearance.store.tables import PatronLinkRow, PatronSnapshotRow
from clearance.store.unit_of_work import SqlUnitOfWork
from schemas.registry import ErrorKind, Topic

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]

# As in test_faults: the freshness gate's bound out of reach, the invariants are about the mechanisms.
FRESHNESS_BOUND = 600.0
# How soon after the poison a certificate must reach the output topic: generous, for a shared 2-core machine.
AFTER_POISON_BOUND = 30.0
FAR_FUTURE = "9999-12-31T00:00:00+00:00"


def _event_poison(topic: Topic, event: dict[str, Any], kind: ErrorKind) -> Poison:
    key, value = record_of(event)
    return Poison(topic, key, value, kind.value)


def _poison() -> list[Poison]:
    """One of each: a record as large as the broker takes, one over the limit, bad JSON, a stranger, a misfit."""
    return [
        # Key and value together just under 1 MiB, the value not JSON: its dead letter must be cut to be published.
        Poison(Topic.CIRCULATION, b"K" * 148_400, b"\xff" * 900_000, ErrorKind.INVALID_JSON.value),
        Poison(Topic.DEPOSITS, b"X-big", b"{" + b" " * 1_100_000 + b"}", ErrorKind.TOO_LARGE.value),
        Poison(Topic.APPLICATIONS, b"X-json", b'{"specversion": "1.0", "id": ', ErrorKind.INVALID_JSON.value),
        _event_poison(
            Topic.CIRCULATION,
            central.event("library.loan.teleported", "XP-unknown", {"loan_id": "XL-1"}, time=T0),
            ErrorKind.UNKNOWN_TYPE,
        ),
        _event_poison(  # no student_id
            Topic.DEPOSITS,
            desk.event("thesis.deposit.accepted", "XS-schema", {"deposit_id": "XD-1"}, time=T0),
            ErrorKind.SCHEMA_VIOLATION,
        ),
    ]


def _publish_raw(producer: KafkaProducer, harness: Harness, records: list[Poison]) -> None:
    for record in records:
        producer.send(harness.settings.topic(record.topic), key=record.key, value=record.value).get(timeout=30)


def _certified(harness: Harness, application_id: str) -> bool:
    return any(c["certificate"]["application_id"] == application_id for c in harness.certificates())


def _dead_letters_published(harness: Harness) -> int:
    return len({r.headers.get("dead-letter-id") for r in harness.dead_letters()})


def test_poison_mid_stream_is_dead_lettered_and_publication_goes_on(kafka_bootstrap: str, tmp_path: Path) -> None:
    """G7, G12: oversized, too-large, invalid, unknown and misfit records between the facts; every outcome follows."""
    workload = Workload("X", 100)
    poison = _poison()
    with fresh_postgres_database() as url:
        harness = Harness(settings_for(kafka_bootstrap, url, tmp_path, freshness_max_wait_seconds=FRESHNESS_BOUND))
        # As the e2e poison test does: a producer that may send what the default 1 MiB request size refuses.
        big = KafkaProducer(bootstrap_servers=kafka_bootstrap, max_request_size=4_000_000, acks="all")
        try:
            harness.start()
            facts = workload.events
            step = math.ceil(len(facts) / len(poison))
            for n, record in enumerate(poison):
                harness.publish(*facts[n * step : (n + 1) * step])
                _publish_raw(big, harness, [record])
            poisoned_at = time.monotonic()
            harness.publish(*workload.applications)
            last = [a["data"]["application_id"] for a in workload.applications if a["data"]["application_id"]
                    in workload.cleared][-1]  # fmt: skip
            harness.wait_for(lambda _: _certified(harness, last), timeout=120, what="the last certificate")
            after_poison = time.monotonic() - poisoned_at
            workload.wait_settled(harness, timeout=60)
            harness.wait_for(lambda _: _dead_letters_published(harness) >= len(poison), timeout=30, what="the poison")
            harness.settle(2)
        finally:
            big.close()
            harness.stop()
        print(f"poison: the last of {len(workload.cleared)} certificates published after the poison "
              f"reached the topic {after_poison:.1f} s after it")  # fmt: skip
        assert after_poison < AFTER_POISON_BOUND, f"certificates behind the poison took {after_poison:.1f} s"
        check_invariants(workload, harness, url, "poison", len(poison), dead_letters=poison)


def _index(application_id: str) -> int:
    return int(application_id[-4:])


def _empty_snapshot(patron: str) -> dict[str, Any]:
    data = {"patron_id": patron, "library_id": "central", "as_of": FAR_FUTURE, "open_loans": [],
            "fine_balance": "0", "currency": "IDR"}  # fmt: skip
    return central.event("library.patron.snapshot", patron, data, time=T0)


def test_far_future_events_mid_stream_freeze_nothing(kafka_bootstrap: str, tmp_path: Path) -> None:
    """G12: snapshots as of 9999 and links dated 9999 are dead-lettered; the facts after them still apply."""
    tag = "Y"
    workload = Workload(tag, 100)
    blocked = sorted(workload.blocked_by_loan)
    snapshotted, relinked = blocked[: len(blocked) // 2], blocked[len(blocked) // 2 :]
    # Believed, a snapshot with no open loan would clear its student for good: nothing dated later could reopen it.
    snapshots = [_empty_snapshot(f"{tag}P{_index(app):04d}") for app in snapshotted]
    # Believed, a link dated 9999 would carry the patron's open loan to a cleared student (fate 0) for good.
    links = [
        central.patron_linked("central", f"{tag}P{_index(app):04d}", f"{tag}S{_index(app) - 7:04d}", time=FAR_FUTURE)
        for app in relinked
    ]
    far_future = [_event_poison(Topic.CIRCULATION, e, ErrorKind.TIME_IN_FUTURE) for e in snapshots + links]
    with fresh_postgres_database() as url:
        harness = Harness(settings_for(kafka_bootstrap, url, tmp_path, freshness_max_wait_seconds=FRESHNESS_BOUND))
        try:
            harness.start()
            half = len(workload.events) // 2
            harness.publish(*workload.events[:half])
            harness.publish(*snapshots, *links)
            harness.publish(*workload.events[half:])
            harness.publish(*workload.applications)
            workload.wait_settled(harness, timeout=90)
            harness.wait_for(lambda _: _dead_letters_published(harness) >= len(far_future), timeout=30,
                             what="the far-future dead letters")  # fmt: skip
            # A real return after the far-future snapshot: the loan was not frozen, the student clears.
            late = snapshotted[0]
            i = _index(late)
            returned = central.loan_returned("central", f"{tag}L{i}", f"{tag}P{i:04d}", T0, time=T0)
            workload.events.append(returned)
            workload.blocked_by_loan.remove(late)
            workload.cleared.add(late)
            harness.publish(returned)
            workload.wait_settled(harness, timeout=60)
            harness.settle(2)
        finally:
            harness.stop()
        _check_nothing_frozen(url, tag, relinked, snapshotted)
        check_invariants(workload, harness, url, "far-future", len(far_future), dead_letters=far_future)


def _check_nothing_frozen(url: str, tag: str, relinked: list[str], snapshotted: list[str]) -> None:
    """Each relinked patron still belongs to its own student; no far-future snapshot was stored."""
    engine = make_engine(url)
    try:
        with SqlUnitOfWork(make_session_factory(engine)) as uow:
            links = {p: s for p, s in uow.session.execute(select(PatronLinkRow.patron_id, PatronLinkRow.student_id))}
            stored = set(uow.session.scalars(select(PatronSnapshotRow.patron_id)))
    finally:
        engine.dispose()
    for app in relinked:
        i = _index(app)
        assert links[f"{tag}P{i:04d}"] == f"{tag}S{i:04d}", f"{tag}P{i:04d} moved by a link dated 9999"
    assert not stored & {f"{tag}P{_index(app):04d}" for app in snapshotted}, "a snapshot as of 9999 was stored"
