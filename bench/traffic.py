"""Traffic on the broker: publishing records (all at once, or paced) and reading the outcomes back."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from bench.workload import Application, Record


def producer(bootstrap: str, linger_ms: int = 5) -> KafkaProducer:
    """A producer as an outside system would configure one (``acks=all``)."""
    return KafkaProducer(
        bootstrap_servers=bootstrap.split(","), acks="all", linger_ms=linger_ms, batch_size=256 * 1024,
        max_request_size=8 * 1024 * 1024,
    )  # fmt: skip


def publish_all(bootstrap: str, topic: str, records: Sequence[Record]) -> float:
    """Publish ``records`` to ``topic`` as fast as the client goes; return the seconds it took."""
    started = time.monotonic()
    client = producer(bootstrap, linger_ms=20)
    try:
        for record in records:
            client.send(topic, key=record.key, value=record.value)
        client.flush(timeout=300)
    finally:
        client.close()
    return time.monotonic() - started


@dataclass
class Outcome:
    """The first final message the registrar got for an application."""

    kind: str  # "cleared" (a certificate) or a final status ("blocked", ...)
    at: float


def service_outcome(event: dict) -> tuple[str, str] | None:
    """(application id, kind) of a certificate or a final status the service published; None otherwise."""
    data = event.get("data") or {}
    if event.get("type") == "clearance.certificate.issued":
        return data["certificate"]["application_id"], "cleared"
    if event.get("type") == "clearance.status.changed" and data.get("status") not in ("pending", "cleared"):
        return data["application_id"], data["status"]
    return None


def relayed_application(event: dict) -> tuple[str, str] | None:
    """(application id, "relayed") of an application the bare relay copied to its output topic."""
    application_id = (event.get("data") or {}).get("application_id")
    return (application_id, "relayed") if application_id else None


@dataclass
class OutcomeReader:
    """Reads output topics from their current end, in a thread, noting when each application's outcome arrives."""

    bootstrap: str
    topics: Sequence[str]
    classify: Callable[[dict], tuple[str, str] | None] = service_outcome
    outcomes: dict[str, Outcome] = field(default_factory=dict)
    messages: int = 0

    def start(self) -> OutcomeReader:
        self.consumer = KafkaConsumer(
            bootstrap_servers=self.bootstrap.split(","), group_id=None, enable_auto_commit=False,
            fetch_max_wait_ms=50,
        )  # fmt: skip
        # Partitions as the broker has them (a topic may have been auto-created with another count).
        partitions = [
            TopicPartition(t, p) for t in self.topics for p in sorted(self.consumer.partitions_for_topic(t) or ())
        ]
        self.consumer.assign(partitions)
        self.consumer.seek_to_end(*partitions)
        for tp in partitions:
            self.consumer.position(tp)  # resolve the end now, before anything is published
        self._stop = threading.Event()
        self._changed = threading.Condition()
        self._thread = threading.Thread(target=self._run, name="bench-outcomes", daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.is_set():
            for records in self.consumer.poll(timeout_ms=100).values():
                now = time.time()
                for record in records:
                    self._note(json.loads(record.value), now)
            with self._changed:
                self._changed.notify_all()

    def _note(self, event: dict, now: float) -> None:
        self.messages += 1
        found = self.classify(event)
        if found is not None:
            self.outcomes.setdefault(found[0], Outcome(found[1], now))

    def wait_for(self, application_ids: Sequence[str], timeout: float) -> int:
        """Wait until every application has an outcome (or the timeout); return how many have one."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                done = sum(1 for a in application_ids if a in self.outcomes)
                if done == len(application_ids) or time.monotonic() > deadline:
                    return done
                self._changed.wait(0.2)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self.consumer.close()


def publish_paced(bootstrap: str, topic: str, apps: Sequence[Application], rate: float) -> dict[str, float]:
    """Publish ``apps`` at ``rate`` per second (an open-loop schedule); return when each was sent."""
    client = producer(bootstrap, linger_ms=0)
    sent: dict[str, float] = {}
    try:
        start = time.monotonic() + 0.05
        wall = time.time() - time.monotonic()
        for i, app in enumerate(apps):
            due = start + i / rate
            pause = due - time.monotonic()
            if pause > 0:
                time.sleep(pause)
            # Latency counts from the schedule, not from when a late send got round to it.
            sent[app.application_id] = wall + due
            client.send(topic, key=app.record.key, value=app.record.value)
        client.flush(timeout=60)
    finally:
        client.close()
    return sent


def publish_burst(bootstrap: str, topic: str, apps: Sequence[Application]) -> dict[str, float]:
    """Publish ``apps`` as fast as possible (saturation); return when each was sent."""
    client = producer(bootstrap, linger_ms=5)
    sent: dict[str, float] = {}
    try:
        for app in apps:
            sent[app.application_id] = time.time()
            client.send(topic, key=app.record.key, value=app.record.value)
        client.flush(timeout=120)
    finally:
        client.close()
    return sent
