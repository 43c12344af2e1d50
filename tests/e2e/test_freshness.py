"""The freshness gate end to end: an application read before an earlier loan must not clear."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from harness import Harness, settings_for
from kafka import KafkaProducer
from timeline import T0

from clearance.demo.eventfactory import EventFactory
from consumers.offsets import SourceOffsetReader
from producers.topics import ensure_topics
from schemas.registry import Topic

pytestmark = pytest.mark.kafka

registrar = EventFactory("urn:registrar:ft", lambda: T0)
central = EventFactory("urn:library:central", lambda: T0)
desk = EventFactory("urn:repository:deposit-desk", lambda: T0)


def test_an_application_consumed_before_an_earlier_loan_does_not_clear(harness: Harness) -> None:
    harness.start()
    harness.publish_applied(
        desk.deposit_submitted("DEP-F", "SF", "Skripsi"),
        desk.deposit_accepted("DEP-F", "SF", time=T0 + timedelta(hours=1)),
    )
    # A backlog in the circulation stream, the student's loan at its end, then the application.
    backlog = [central.patron_linked("central", f"X{i}", f"OTHER{i}") for i in range(3000)]
    loan = central.loan_opened(
        "central", "LF", "PF", item_id="B1", title="Kalkulus", borrowed_at=T0 - timedelta(days=9),
        due_at=T0 - timedelta(days=2), time=T0 - timedelta(days=9),
    )  # fmt: skip
    harness.publish(*backlog, central.patron_linked("central", "PF", "SF"), loan)
    harness.publish(registrar.application_submitted("APP-F", "SF", full_name="F", faculty="Teknik", program="Sipil"))
    harness.wait_for(harness.reached("APP-F", "blocked"), timeout=90, what="blocked by the loan")
    harness.settle(1)
    statuses = [s["status"] for s in harness.statuses("APP-F")]
    assert "cleared" not in statuses
    assert harness.certificates("SF") == []
    assert harness.statuses("APP-F")[-1]["reasons"][0]["code"] == "OUTSTANDING_LOAN"


def test_the_source_reader_finds_the_end_past_a_batch_of_many_records(kafka_bootstrap: str, tmp_path: Path) -> None:
    """The gate's end offsets count every published record, not only the first of the last batch.

    Tansu answers ListOffsets(latest) with the last batch's base offset plus one;
    trusted, it would call a source current with most of its last batch unapplied.
    """
    settings = settings_for(kafka_bootstrap, "sqlite://", tmp_path)
    ensure_topics(settings)
    circulation = settings.topic(Topic.CIRCULATION)
    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all", linger_ms=200)
    for batch in (25, 1, 7):  # each flush closes one record batch
        for _ in range(batch):
            producer.send(circulation, partition=0, key=b"P1", value=b"{}")
        producer.flush()
    reader = SourceOffsetReader(settings)
    try:
        snapshot = reader.snapshot()
        again = reader.snapshot()  # from what the reader confirmed before: nothing was appended
        for _ in range(4):
            producer.send(circulation, partition=0, key=b"P1", value=b"{}")
        producer.flush()
        later = reader.snapshot()
    finally:
        reader.close()
        producer.close()
    assert snapshot.end_offsets is not None and again.end_offsets == snapshot.end_offsets
    assert snapshot.end_offsets[(Topic.CIRCULATION.value, 0)] == 33
    assert snapshot.end_offsets[(Topic.DEPOSITS.value, 0)] == 0
    assert later.end_offsets is not None and later.end_offsets[(Topic.CIRCULATION.value, 0)] == 37
