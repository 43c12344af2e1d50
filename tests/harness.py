"""Run the service against a real broker and database, publish like an outside system, read what it publishes."""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from clearance.bootstrap import create_service
from clearance.demo.eventfactory import record_of, topic_of
from clearance.service import Service
from clearance.settings import Settings
from clearance.store.unit_of_work import SqlUnitOfWork
from schemas.registry import Topic

OUTPUT_TOPICS = (Topic.STATUS, Topic.CERTIFICATES, Topic.DEAD_LETTER)


def settings_for(bootstrap: str, database_url: str, workdir: Path, **overrides: Any) -> Settings:
    """Settings for one isolated run: its own topic prefix, keys and database."""
    prefix = f"t{uuid.uuid4().hex[:10]}."
    values: dict[str, Any] = {
        "kafka_bootstrap_servers": bootstrap,
        "database_url": database_url,
        "topic_prefix": prefix,
        # Groups of their own too: a member lingering from an earlier test must not stall this one's joins.
        "group_id": f"{prefix}graduation-clearance",
        "key_dir": workdir / "keys",
        "topic_partitions": 3,
        "kafka_session_timeout_ms": 6000,
        "kafka_heartbeat_interval_ms": 1000,
        "poll_timeout_ms": 200,
        "relay_idle_seconds": 0.02,
        "status_list_seconds": 0.5,
        "retry_initial_seconds": 0.2,
        "retry_max_seconds": 2.0,
        "log_format": "console",
        # No metrics endpoint unless a test asks for one on a free port: services in one process would share 9464.
        "metrics_port": 0,
    }
    values.update(overrides)
    return Settings(**values)


@dataclass
class Received:
    """A record the service published."""

    topic: Topic
    key: bytes | None
    value: bytes | None
    headers: dict[str, bytes]
    partition: int
    offset: int

    @property
    def event(self) -> dict[str, Any]:
        return json.loads(self.value or b"null")

    @property
    def type(self) -> str:
        return self.event["type"] if self.topic is not Topic.DEAD_LETTER else "dead-letter"

    @property
    def data(self) -> dict[str, Any]:
        return self.event["data"]


@dataclass
class Harness:
    """One service under test, with a producer and an output reader on its topics."""

    settings: Settings
    services: list[Service] = field(default_factory=list)
    received: list[Received] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.producer = KafkaProducer(bootstrap_servers=self.settings.kafka_bootstrap_servers, acks="all")
        self._reader: KafkaConsumer | None = None

    def start(self, **overrides: Any) -> Service:
        """Start one more instance of the service (same group, same database unless overridden)."""
        settings = self.settings.model_copy(update=overrides) if overrides else self.settings
        service = create_service(settings)
        service.prepare()
        service.start()
        self.services.append(service)
        return service

    def stop(self) -> None:
        for service in self.services:
            service.stop()
            service.close()
        self.services.clear()
        self.producer.close()
        if self._reader is not None:
            self._reader.close()

    def environment(self, **overrides: str) -> dict[str, str]:
        """The environment of a ``clearance run`` subprocess on this harness's broker, database, topics and keys."""
        s = self.settings
        env = {
            **os.environ,
            "CLEARANCE_KAFKA_BOOTSTRAP_SERVERS": s.kafka_bootstrap_servers,
            "CLEARANCE_DATABASE_URL": s.database_url,
            "CLEARANCE_TOPIC_PREFIX": s.topic_prefix,
            "CLEARANCE_GROUP_ID": s.group_id,
            "CLEARANCE_KEY_DIR": str(s.key_dir),
            "CLEARANCE_TOPIC_PARTITIONS": str(s.topic_partitions),
            "CLEARANCE_KAFKA_SESSION_TIMEOUT_MS": str(s.kafka_session_timeout_ms),
            "CLEARANCE_KAFKA_HEARTBEAT_INTERVAL_MS": str(s.kafka_heartbeat_interval_ms),
            "CLEARANCE_FRESHNESS_MAX_WAIT_SECONDS": str(s.freshness_max_wait_seconds),
            "CLEARANCE_METRICS_PORT": "0",
        }
        env.update({f"CLEARANCE_{name.upper()}": value for name, value in overrides.items()})
        return env

    def publish(self, *events: dict[str, Any]) -> None:
        """Publish events as their owners would: structured CloudEvents keyed by subject."""
        sent = []
        for event in events:
            key, value = record_of(event)
            sent.append(self.producer.send(self.settings.topic(topic_of(event)), key=key, value=value))
        self.producer.flush()
        for future in sent:
            future.get(timeout=30)  # a send the broker refused fails the test here, not later in a wait

    def publish_applied(self, *events: dict[str, Any], timeout: float = 40.0) -> None:
        """Publish events and wait until the service has stored every one of them.

        Facts that precede an application in the real world are, in a test,
        only a few milliseconds older; waiting here keeps a scenario from
        racing the consumers of the other topics.
        """
        self.publish(*events)
        keys = [(e["source"], e["id"]) for e in events]
        deadline = time.monotonic() + timeout
        while True:
            with SqlUnitOfWork(self.services[0].session_factory) as uow:
                if len(uow.inbox.seen(keys)) == len(set(keys)):
                    return
            if time.monotonic() > deadline:
                raise AssertionError(f"the service did not apply {len(keys)} events within {timeout}s")
            time.sleep(0.05)

    def publish_raw(self, topic: Topic, key: bytes | None, value: bytes | None) -> None:
        self.producer.send(self.settings.topic(topic), key=key, value=value)
        self.producer.flush()

    def _read(self) -> None:
        if self._reader is None:
            self._reader = KafkaConsumer(
                bootstrap_servers=self.settings.kafka_bootstrap_servers, group_id=None, enable_auto_commit=False
            )
            self._assigned: set[TopicPartition] = set()
            self._seen: set[tuple[str, int, int]] = set()
        self._assign_new_partitions()
        for tp, records in self._reader.poll(timeout_ms=200).items():
            topic = self.settings.logical_topic(tp.topic)
            assert topic is not None
            for r in records:
                if (tp.topic, r.partition, r.offset) in self._seen:
                    continue  # a fetch repeated around an offset reset
                self._seen.add((tp.topic, r.partition, r.offset))
                headers = {k: v for k, v in r.headers}
                self.received.append(Received(topic, r.key, r.value, headers, r.partition, r.offset))

    def _assign_new_partitions(self) -> None:
        # The partitions come from the broker, not from the settings: a broker that auto-creates
        # topics (Tansu makes four partitions) may have made an output topic before the service did.
        assert self._reader is not None
        current: set[TopicPartition] = set()
        for t in OUTPUT_TOPICS:
            name = self.settings.topic(t)
            current.update(TopicPartition(name, p) for p in self._reader.partitions_for_topic(name) or ())
        new = current - self._assigned
        if new:
            self._assigned |= new
            self._reader.assign(sorted(self._assigned))
            self._reader.seek_to_beginning(*sorted(new))

    def reconnect(self) -> None:
        """New clients after a broker restart, as an outside system would make: the reader reads afresh.

        The producer is idempotent; a broker that restarted empty no longer knows its
        producer id, which the client takes as a fatal error.
        """
        self.producer.close()
        self.producer = KafkaProducer(bootstrap_servers=self.settings.kafka_bootstrap_servers, acks="all")
        if self._reader is not None:
            self._reader.close()
        self._reader = None

    def wait_for(self, condition: Callable[[list[Received]], Any], timeout: float = 40.0, what: str = "") -> Any:
        """Read output until ``condition`` returns something truthy; fail after ``timeout``."""
        deadline = time.monotonic() + timeout
        while True:
            self._read()
            outcome = condition(self.received)
            if outcome:
                return outcome
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what or condition}; received: {self.summary()}")

    def settle(self, seconds: float = 2.0) -> None:
        """Keep reading for a while, to see that nothing more arrives."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            self._read()

    def summary(self) -> str:
        counts: dict[str, int] = {}
        for r in self.received:
            counts[r.type] = counts.get(r.type, 0) + 1
        last = [(r.type, (r.key or b"").decode(errors="replace")) for r in self.received[-8:]]
        return f"{counts}, the last: {last}"

    # -- views ---------------------------------------------------------------

    def statuses(self, application_id: str) -> list[dict[str, Any]]:
        return [
            r.data
            for r in self.received
            if r.type == "clearance.status.changed" and r.data["application_id"] == application_id
        ]

    def status(self, application_id: str) -> str | None:
        history = self.statuses(application_id)
        return history[-1]["status"] if history else None

    def certificates(self, student_id: str | None = None) -> list[dict[str, Any]]:
        return [
            r.data
            for r in self.received
            if r.type == "clearance.certificate.issued" and (student_id is None or r.key == student_id.encode())
        ]

    def revocations(self, application_id: str) -> list[dict[str, Any]]:
        return [
            r.data
            for r in self.received
            if r.type == "clearance.certificate.revoked" and r.data["application_id"] == application_id
        ]

    def dead_letters(self) -> list[Received]:
        return [r for r in self.received if r.topic is Topic.DEAD_LETTER]

    def reached(self, application_id: str, status: str) -> Callable[[Iterable[Received]], bool]:
        return lambda _: self.status(application_id) == status
