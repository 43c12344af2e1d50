"""Producer trust over a real broker (G11): forgeries are dead-lettered as unauthorized and change nothing.

The service runs with a trust file and per-producer topics; every attack of the
review is tried, and genuine events on the producers' own topics, before and
after, still decide.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from harness import Harness, settings_for
from kafka import KafkaProducer
from timeline import T0

from clearance.config.trust_file import load_trust
from clearance.demo.eventfactory import EventFactory
from clearance.domain.freshness import SourceOffsets, sources_behind
from clearance.store.unit_of_work import SqlUnitOfWork
from consumers.offsets import SourceOffsetReader
from consumers.streams import Streams
from producers.topics import ensure_topics
from schemas.registry import Topic

pytestmark = pytest.mark.kafka

TRUST = """
[[rule]]
topic = "library.circulation.central"
sources = ["urn:library:central"]
types = ["library.*"]
library_ids = ["central"]

[[rule]]
topic = "library.circulation.fk-teknik"
sources = ["urn:library:fk-teknik"]
types = ["library.*"]
library_ids = ["fk-teknik"]

[[rule]]
topic = "thesis.deposits.etd"
sources = ["urn:repository:etd"]
types = ["thesis.deposit.*"]

[[rule]]
topic = "graduation.applications.registrar"
sources = ["urn:academic:*"]
types = ["graduation.application.*"]
"""

central = EventFactory("urn:library:central", lambda: T0)
teknik = EventFactory("urn:library:fk-teknik", lambda: T0)
etd = EventFactory("urn:repository:etd", lambda: T0)
registrar = EventFactory("urn:academic:registrar", lambda: T0)
attacker = EventFactory("urn:attacker:anyone", lambda: T0)


class Producers:
    """Each producer writing its own topic, as its principal would."""

    def __init__(self, harness: Harness) -> None:
        self.harness = harness
        self.producer = KafkaProducer(bootstrap_servers=harness.settings.kafka_bootstrap_servers, acks="all")

    def send(self, stream: str, *events: dict) -> None:
        for event in events:
            self.producer.send(self.harness.settings.topic_prefix + stream, key=event["subject"].encode(),
                               value=json.dumps(event).encode()).get(timeout=30)  # fmt: skip

    def close(self) -> None:
        self.producer.close()


@pytest.fixture(scope="module")
def trusted(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Harness, Producers]]:
    workdir = tmp_path_factory.mktemp("trusted")
    (workdir / "trust.toml").write_text(TRUST)
    harness = Harness(settings_for(kafka_bootstrap, f"sqlite:///{workdir / 'c.db'}", workdir,
                                   trust_file=workdir / "trust.toml"))  # fmt: skip
    harness.start()
    producers = Producers(harness)
    yield harness, producers
    producers.close()
    harness.stop()


def _loan(factory: EventFactory, library: str, loan: str, patron: str) -> dict:
    return factory.loan_opened(library, loan, patron, item_id="B1", title="Mekanika Fluida",
                               borrowed_at=T0 - timedelta(days=30), due_at=T0 - timedelta(days=2),
                               time=T0 - timedelta(days=30))  # fmt: skip


def _ready(producers: Producers, n: str, library: EventFactory = central, library_id: str = "central") -> None:
    producers.send(f"library.circulation.{library_id}", library.patron_linked(library_id, f"P{n}", f"S{n}"))
    producers.send("thesis.deposits.etd", etd.deposit_submitted(f"D{n}", f"S{n}", "Skripsi"),
                   etd.deposit_accepted(f"D{n}", f"S{n}", time=T0 + timedelta(hours=1)))  # fmt: skip


def _apply(n: str) -> dict:
    return registrar.application_submitted(f"A{n}", f"S{n}", full_name="Siti", faculty="Teknik", program="Sipil",
                                           time=T0 + timedelta(days=1))  # fmt: skip


def _refused(harness: Harness, key: str) -> list:
    return [r for r in harness.received if r.topic is Topic.DEAD_LETTER and r.key == key.encode()]


def _blocked_then_forged(harness: Harness, producers: Producers, n: str, stream: str, forged: dict) -> None:
    """A student blocked by a central loan; a forgery tries to clear it; it stays blocked."""
    _ready(producers, n)
    producers.send("library.circulation.central", _loan(central, "central", f"L{n}", f"P{n}"))
    producers.send("graduation.applications.registrar", _apply(n))
    harness.wait_for(harness.reached(f"A{n}", "blocked"), what="blocked by the loan")
    producers.send(stream, forged)
    [letter] = harness.wait_for(lambda _: _refused(harness, forged["subject"]), what="the forgery dead-lettered")
    assert letter.headers["error-kind"] in (b"unauthorized", b"wrong-topic")
    # A genuine return on the library's own topic still clears the student.
    producers.send("library.circulation.central", central.loan_returned("central", f"L{n}", f"P{n}", T0))
    harness.wait_for(lambda _: harness.certificates(f"S{n}"), what="the genuine return clears")
    assert f"A{n}" in {c["certificate"]["application_id"] for c in harness.certificates(f"S{n}")}


def test_a_return_from_a_forged_source_is_refused(trusted) -> None:
    harness, producers = trusted
    forged = attacker.loan_returned("central", "LF1", "PF1", T0)
    _blocked_then_forged(harness, producers, "F1", "library.circulation.central", forged)


def test_one_library_speaking_for_another_librarys_loan_is_refused(trusted) -> None:
    harness, producers = trusted
    forged = teknik.loan_returned("central", "LF2", "PF2", T0)
    _blocked_then_forged(harness, producers, "F2", "library.circulation.fk-teknik", forged)


def test_a_snapshot_of_another_library_is_refused(trusted) -> None:
    harness, producers = trusted
    snapshot = {"patron_id": "PF3", "library_id": "central", "as_of": T0.isoformat(), "open_loans": [],
                "fine_balance": "0", "currency": "IDR"}  # fmt: skip
    forged = teknik.event("library.patron.snapshot", "PF3", snapshot)
    _blocked_then_forged(harness, producers, "F3", "library.circulation.fk-teknik", forged)


def test_a_library_event_on_a_topic_no_rule_names_is_refused(trusted) -> None:
    harness, producers = trusted
    forged = central.loan_returned("central", "LF4", "PF4", T0)
    _blocked_then_forged(harness, producers, "F4", "library.circulation", forged)


def test_an_application_and_deposit_from_an_unknown_source_get_no_certificate(trusted) -> None:
    harness, producers = trusted
    producers.send("thesis.deposits.etd", attacker.deposit_submitted("DX", "SX", "Skripsi"),
                   attacker.deposit_accepted("DX", "SX", time=T0 + timedelta(hours=1)))  # fmt: skip
    producers.send("graduation.applications.registrar", attacker.application_submitted(
        "AX", "SX", full_name="Nobody", faculty="Teknik", program="Sipil"))  # fmt: skip
    harness.wait_for(lambda _: len(_refused(harness, "SX")) == 3, what="three refusals")
    harness.settle(2)
    assert harness.certificates("SX") == [] and harness.statuses("AX") == []


def test_a_forged_withdrawal_revokes_nothing(trusted) -> None:
    harness, producers = trusted
    _ready(producers, "W1")
    producers.send("graduation.applications.registrar", _apply("W1"))
    harness.wait_for(lambda _: harness.certificates("SW1"), what="a certificate")
    forged_here = attacker.application_withdrawn("AW1", "SW1")
    on_library_topic = registrar.application_withdrawn("AW1", "SW1")
    producers.send("graduation.applications.registrar", forged_here)
    producers.send("library.circulation.central", on_library_topic)
    harness.wait_for(lambda _: len(_refused(harness, "SW1")) == 2, what="both withdrawals refused")
    harness.settle(2)
    assert harness.status("AW1") == "cleared"
    assert not [r for r in harness.received if r.type == "clearance.certificate.revoked" and r.key == b"SW1"]


def test_the_gate_counts_a_faculty_librarys_own_topic_as_a_source(kafka_bootstrap: str, tmp_path: Path) -> None:
    (tmp_path / "trust.toml").write_text(TRUST)
    settings = settings_for(kafka_bootstrap, "sqlite://", tmp_path, trust_file=tmp_path / "trust.toml")
    streams = Streams(settings, load_trust(settings.trust_file))
    ensure_topics(settings, streams.named(Topic.CIRCULATION, Topic.DEPOSITS))
    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    producer.send(settings.topic_prefix + "library.circulation.fk-teknik", partition=0, key=b"P1", value=b"{}").get(30)
    producer.close()
    reader = SourceOffsetReader(settings, streams=streams)
    try:
        snapshot = reader.snapshot()
    finally:
        reader.close()
    assert snapshot.end_offsets is not None
    assert snapshot.end_offsets[("library.circulation.fk-teknik", 0)] == 1
    # A loan waiting there holds a clearance until that stream is applied.
    assert sources_behind(snapshot, {}) == ("library.circulation.fk-teknik",)
    applied = {key: end for key, end in snapshot.end_offsets.items()}
    assert sources_behind(SourceOffsets(snapshot.end_offsets, snapshot.topic_ids), applied) == ()


def test_a_per_producer_topic_made_after_the_start_is_consumed(kafka_bootstrap: str, tmp_path: Path) -> None:
    (tmp_path / "trust.toml").write_text(TRUST + """
[[rule]]
topic = "library.circulation.partner-*"
sources = ["urn:library:partner-*"]
types = ["library.*"]
""")
    harness = Harness(settings_for(kafka_bootstrap, f"sqlite:///{tmp_path / 'c.db'}", tmp_path,
                                   trust_file=tmp_path / "trust.toml", kafka_metadata_max_age_ms=2000))  # fmt: skip
    harness.start()
    producers = Producers(harness)
    def applied(event: dict) -> Callable[[object], bool]:
        def check(_: object) -> bool:
            with SqlUnitOfWork(harness.services[0].session_factory) as uow:
                return bool(uow.inbox.seen([(event["source"], event["id"])]))

        return check

    try:
        # The service runs and reads its topics...
        known = central.patron_linked("central", "PN0", "SN0")
        producers.send("library.circulation.central", known)
        harness.wait_for(applied(known), timeout=40, what="an event on a known topic applied")
        # ...then a partner's topic appears: it does not exist until its producer first writes.
        partner = EventFactory("urn:library:partner-ui", lambda: T0)
        linked = partner.patron_linked("partner-ui", "PN1", "SN1")
        producers.send("library.circulation.partner-ui", linked)
        harness.wait_for(applied(linked), timeout=40, what="the event on the new topic applied")
    finally:
        producers.close()
        harness.stop()
