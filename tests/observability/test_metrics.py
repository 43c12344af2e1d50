"""The Prometheus endpoint and the health checks, on a service running against a real broker."""

from __future__ import annotations

import socket
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from harness import Harness, settings_for
from kafka import KafkaProducer
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families
from timeline import T0

from clearance.demo.eventfactory import EventFactory
from clearance.observability.metrics import Monitor, PrometheusObserver
from clearance.observability.observer import Published
from clearance.store.engine import make_engine, make_session_factory
from clearance.store.migrate import upgrade
from clearance.store.unit_of_work import SqlUnitOfWork
from consumers.watermarks import BrokerUnavailable, TopicWatermarks
from producers.topics import ensure_topics
from schemas.registry import Topic

registrar = EventFactory("urn:registrar:ft", lambda: T0)
central = EventFactory("urn:library:central", lambda: T0)
desk = EventFactory("urn:repository:deposit-desk", lambda: T0)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _closed_port() -> int:
    # Nothing listens on a port just released: connections to it are refused at once.
    return _free_port()


def _samples(text: str) -> dict[tuple[str, frozenset], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return found


def _value(samples: dict, name: str, **labels: str) -> float | None:
    return samples.get((name, frozenset(labels.items())))


@pytest.mark.kafka
def test_a_running_service_counts_what_it_consumes_decides_and_publishes(kafka_bootstrap: str, tmp_path: Path) -> None:
    port = _free_port()
    harness = Harness(settings_for(kafka_bootstrap, f"sqlite:///{tmp_path / 'clearance.db'}", tmp_path))
    try:
        harness.start(metrics_port=port, metrics_host="127.0.0.1")
        prefix = harness.settings.topic_prefix
        student, patron = f"S{uuid.uuid4().hex[:8]}", f"P{uuid.uuid4().hex[:8]}"
        harness.publish_applied(
            central.patron_linked("central", patron, student),
            desk.deposit_submitted(f"DEP-{student}", student, "Analisis Debit Sungai Brantas"),
            desk.deposit_accepted(f"DEP-{student}", student, time=T0 + timedelta(hours=3)),
        )
        harness.publish(
            registrar.application_submitted(
                "APP-1", student, full_name="Siti Rahmawati", faculty="Teknik", program="Teknik Sipil",
                time=T0 + timedelta(days=1),
            )
        )  # fmt: skip
        harness.publish_raw(Topic.CIRCULATION, b"P-broken", b"{not json")
        harness.wait_for(lambda _: harness.certificates(student) and harness.dead_letters(), what="certificate, dlq")

        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            samples = _samples(httpx.get(f"{base}/metrics", timeout=5).text)
            lag = {k: v for k, v in samples.items() if k[0] == "clearance_consumer_lag"}
            settled = (
                _value(samples, "clearance_messages_published_total", topic=f"{prefix}clearance.dead-letter",
                       type="dead-letter") == 1.0
                and _value(samples, "clearance_applications", status="cleared") == 1.0
                and _value(samples, "clearance_outbox_backlog", topic=f"{prefix}clearance.certificates") == 0.0
                and lag and all(v == 0.0 for v in lag.values())
            )  # fmt: skip
            if settled or time.monotonic() > deadline:
                break
            time.sleep(0.5)

        circulation = f"{prefix}library.circulation"
        assert _value(samples, "clearance_events_consumed_total", topic=circulation, type="library.patron.linked") == 1
        assert (
            _value(samples, "clearance_events_consumed_total", topic=f"{prefix}thesis.deposits",
                   type="thesis.deposit.accepted") == 1
        )  # fmt: skip
        assert _value(samples, "clearance_dead_lettered_total", topic=circulation, kind="invalid-json") == 1
        assert _value(samples, "clearance_decisions_total", outcome="cleared") == 1
        assert _value(samples, "clearance_certificates_issued_total") == 1
        assert _value(samples, "clearance_certificates_revoked_total") == 0
        issued = "clearance.certificate.issued"
        assert _value(samples, "clearance_decision_latency_seconds_count", type=issued) == 1
        assert _value(samples, "clearance_decision_latency_seconds_sum", type=issued) > 0
        assert _value(samples, "clearance_applications", status="cleared") == 1
        assert _value(samples, "clearance_outbox_backlog", topic=f"{prefix}clearance.certificates") == 0
        assert _value(samples, "clearance_outbox_oldest_age_seconds") == 0
        assert _value(samples, "clearance_database_up") == 1
        assert _value(samples, "clearance_broker_up") == 1
        # One gauge per partition of every inbound topic, all caught up.
        assert {dict(labels)["topic"] for (_name, labels) in lag} == {
            f"{prefix}{t}" for t in ("graduation.applications", "library.circulation", "thesis.deposits")
        }
        assert lag and all(v == 0 for v in lag.values()), lag

        ready = httpx.get(f"{base}/readyz", timeout=5)
        assert ready.status_code == 200, ready.text
        assert ready.json()["checks"]["database"]["ok"] and ready.json()["checks"]["broker"]["ok"]
        live = httpx.get(f"{base}/livez", timeout=5)
        assert live.status_code == 200 and all(live.json()["checks"]["workers"].values())
        assert httpx.get(f"{base}/nothing-here", timeout=5).status_code == 404
    finally:
        harness.stop()
    with pytest.raises(httpx.TransportError):
        httpx.get(f"http://127.0.0.1:{port}/livez", timeout=2)


@pytest.mark.kafka
def test_consumer_lag_is_the_broker_next_offset_minus_the_stored_position(kafka_bootstrap: str, tmp_path: Path) -> None:
    settings = settings_for(kafka_bootstrap, f"sqlite:///{tmp_path / 'c.db'}", tmp_path)
    upgrade(settings.database_url)
    ensure_topics(settings)
    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    for _ in range(5):
        producer.send(settings.topic(Topic.DEPOSITS), key=b"S1", value=b"{}", partition=1).get(timeout=30)
    producer.close()
    engine = make_engine(settings.database_url)
    factory = make_session_factory(engine)
    with SqlUnitOfWork(factory) as uow:
        uow.positions.save({(Topic.DEPOSITS.value, 1): 2}, datetime.now(UTC))
        uow.commit()
    probe = TopicWatermarks(settings)
    monitor = Monitor(settings, factory, probe)
    monitor.refresh()
    probe.close()
    engine.dispose()
    families = {m.name: m for m in monitor.collect()}
    lag = {(s.labels["topic"], s.labels["partition"]): s.value for s in families["clearance_consumer_lag"].samples}
    assert lag[(settings.topic(Topic.DEPOSITS), "1")] == 3
    assert lag[(settings.topic(Topic.DEPOSITS), "0")] == 0
    assert monitor.ready()[0] is True


def test_readiness_fails_while_the_database_does_not_answer(tmp_path: Path) -> None:
    settings = settings_for("127.0.0.1:1", f"postgresql://postgres@127.0.0.1:{_closed_port()}/none", tmp_path)
    engine = make_engine(settings.database_url, connect_args={"connect_timeout": 2})
    monitor = Monitor(settings, make_session_factory(engine), _AnsweringBroker())
    monitor.refresh()
    engine.dispose()
    ready, checks = monitor.ready()
    assert ready is False
    assert checks["database"]["ok"] is False and "OperationalError" in checks["database"]["error"]
    assert checks["broker"]["ok"] is True
    up = {m.name: m.samples[0].value for m in monitor.collect() if m.name.endswith("_up")}
    assert up == {"clearance_database_up": 0.0, "clearance_broker_up": 1.0}


def test_readiness_fails_while_the_broker_does_not_answer(tmp_path: Path) -> None:
    settings = settings_for(f"127.0.0.1:{_closed_port()}", f"sqlite:///{tmp_path / 'c.db'}", tmp_path)
    upgrade(settings.database_url)
    engine = make_engine(settings.database_url)
    probe = TopicWatermarks(settings, timeout_ms=1500)
    with pytest.raises(BrokerUnavailable):
        probe.read()
    monitor = Monitor(settings, make_session_factory(engine), probe)
    monitor.refresh()
    engine.dispose()
    ready, checks = monitor.ready()
    assert ready is False
    assert checks["broker"]["ok"] is False and checks["database"]["ok"] is True


def test_a_check_that_stops_answering_goes_stale(tmp_path: Path) -> None:
    settings = settings_for("127.0.0.1:1", f"sqlite:///{tmp_path / 'c.db'}", tmp_path)
    upgrade(settings.database_url)
    engine = make_engine(settings.database_url)
    now = [1000.0]
    monitor = Monitor(settings, make_session_factory(engine), _AnsweringBroker(), interval=5, clock=lambda: now[0])
    monitor.refresh()
    engine.dispose()
    assert monitor.ready()[0] is True
    now[0] += monitor.stale_after + 1  # a refresh hanging on a dead connection never reports a failure
    assert monitor.ready()[0] is False


def test_decision_latency_runs_from_the_source_time_to_the_acknowledgement() -> None:
    registry = CollectorRegistry()
    observer = PrometheusObserver(registry)
    acked = datetime(2026, 11, 24, 3, 0, tzinfo=UTC)
    observer.published(
        [
            Published("clearance.certificate.issued", "clearance.certificates", acked,
                      acked - timedelta(seconds=90), acked),
            Published("clearance.status.changed", "clearance.status", acked, acked + timedelta(seconds=5), acked),
            Published("dead-letter", "clearance.dead-letter", acked, None, acked),
        ]
    )  # fmt: skip
    issued = {"type": "clearance.certificate.issued"}
    assert registry.get_sample_value("clearance_decision_latency_seconds_sum", issued) == 90
    assert registry.get_sample_value("clearance_decision_latency_seconds_bucket", {**issued, "le": "60.0"}) == 0
    assert registry.get_sample_value("clearance_decision_latency_seconds_bucket", {**issued, "le": "300.0"}) == 1
    status = {"type": "clearance.status.changed"}
    assert registry.get_sample_value("clearance_decision_latency_seconds_sum", status) == 0  # source clock ahead
    assert registry.get_sample_value("clearance_decision_latency_seconds_count", {"type": "dead-letter"}) is None
    assert (
        registry.get_sample_value(
            "clearance_messages_published_total", {"topic": "clearance.dead-letter", "type": "dead-letter"}
        )
        == 1
    )


class _AnsweringBroker:
    """A broker probe that answers with an empty cluster (for checks of the database side)."""

    def read(self) -> dict[tuple[str, int], tuple[int, int]]:
        return {}

    def close(self) -> None:
        return None


def test_a_taken_metrics_port_is_logged_and_readiness_fails_during_shutdown(tmp_path: Path) -> None:
    import threading

    from clearance.observability.metrics import ServiceMetrics

    port = _free_port()
    settings = settings_for("127.0.0.1:1", f"sqlite:///{tmp_path / 'c.db'}", tmp_path, metrics_port=port)
    settings = settings.model_copy(update={"metrics_host": "127.0.0.1"})
    upgrade(settings.database_url)
    engine = make_engine(settings.database_url)
    stop = threading.Event()
    first = ServiceMetrics(settings, make_session_factory(engine), _AnsweringBroker())
    second = ServiceMetrics(settings, make_session_factory(engine), _AnsweringBroker())
    try:
        first.start(stop, dict)
        second.start(stop, dict)  # the port is taken: no exception, no endpoint
        assert first.port == port and second.port is None
        assert httpx.get(f"http://127.0.0.1:{port}/livez", timeout=5).status_code == 200
        stop.set()  # shutting down: no longer ready, still alive
        readyz = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=5)
        assert readyz.status_code == 503 and readyz.json()["checks"]["stopping"] is True
        assert httpx.get(f"http://127.0.0.1:{port}/livez", timeout=5).status_code == 200
    finally:
        stop.set()
        first.close()
        second.close()
        engine.dispose()
