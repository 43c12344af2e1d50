"""The outbox relay: publishes what the handlers wrote, in order, and marks it only once acknowledged.

Rows are read in outbox order (which is per-student commit order, because
the student lock serialises the transactions that write them), sent with an
idempotent producer, flushed, and marked published up to the first failure.
A crash between acknowledgement and marking re-publishes the same CloudEvent
ids: consumers downstream de-duplicate by (source, id), as they must anyway.
With several instances on PostgreSQL an advisory lock lets one relay publish
at a time, so two relays never interleave one student's messages.
"""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog
from kafka import KafkaProducer
from kafka.errors import KafkaError
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from clearance.observe import NullObserver, Observer, Published
from clearance.settings import Settings
from clearance.store.tables import OutboxRow
from clearance.store.unit_of_work import UnitOfWork
from consumers.backoff import Backoff
from consumers.loop import is_transient
from schemas.registry import Topic

log = structlog.get_logger("clearance.relay")

_RELAY_LOCK = 7426018
# Kafka's default message.max.bytes is about 1 MB; a dead letter larger than
# this is published cut, its whole value staying in the dead_letters table.
MAX_DEAD_LETTER_VALUE = 900_000


def record_of(row: OutboxRow) -> tuple[bytes | None, bytes | None, list[tuple[str, bytes]]]:
    """Key, value and headers of an outbox row as the producer sends them."""
    headers = [(k, v.encode("utf-8")) for k, v in json.loads(row.headers)]
    value = row.value
    if row.topic == Topic.DEAD_LETTER.value and value is not None and len(value) > MAX_DEAD_LETTER_VALUE:
        headers.append(("value-truncated", str(len(value)).encode()))
        value = value[:MAX_DEAD_LETTER_VALUE]
    return row.key, value, headers


class OutboxRelay:
    """Publishes the outbox until ``stop`` is set."""

    def __init__(
        self,
        settings: Settings,
        session_factory: sessionmaker[Session],
        stop: threading.Event,
        producer: KafkaProducer | None = None,
        observer: Observer | None = None,
    ) -> None:
        self.settings = settings
        self.session_factory = session_factory
        self.stop = stop
        self.producer = producer
        self.backoff = Backoff(settings.retry_initial_seconds, settings.retry_max_seconds)
        self.published = 0
        self._pruned_at = time.monotonic()
        self.observer: Observer = observer or NullObserver()

    def _producer(self) -> KafkaProducer:
        return KafkaProducer(
            **self.settings.kafka_client_options(),
            acks="all",
            enable_idempotence=True,
            max_in_flight_requests_per_connection=5,
            linger_ms=5,
            retries=2**31 - 1,
            delivery_timeout_ms=60_000,
            request_timeout_ms=30_000,
            max_request_size=1_048_576,
        )

    def run(self) -> None:
        """Relay until stopped, then publish what is left if the broker allows."""
        log.info("relay_started")
        try:
            while not self.stop.is_set():
                try:
                    if self.producer is None:
                        self.producer = self._producer()
                    sent = self.relay_once()
                except Exception as exc:
                    delay = self.backoff.next_delay()
                    level = log.warning if is_transient(exc) or isinstance(exc, KafkaError) else log.error
                    level("relay_failed", error=repr(exc)[:300], retry_in=round(delay, 2))
                    if isinstance(exc, KafkaError):
                        self._discard_producer()
                    self.stop.wait(delay)
                    continue
                self.backoff.reset()
                if sent == 0:
                    self.prune_if_due()
                    self.stop.wait(self.settings.relay_idle_seconds)
            if self.producer is not None:
                self.drain()
        finally:
            if self.producer is not None:
                self.producer.close(timeout=5)
            log.info("relay_stopped", published=self.published)

    def _discard_producer(self) -> None:
        # An idempotent producer can fail for good (a restarted broker that no longer knows its
        # producer id answers InitProducerId with an error the client treats as fatal); the rows
        # it did not get acknowledged are still unmarked, so a new producer sends them again.
        if self.producer is None:  # making the new one failed: nothing to close
            return
        try:
            self.producer.close(timeout=1)
        except Exception as exc:  # closing a broken producer may fail too; it is dropped either way
            log.debug("producer_close_failed", error=repr(exc)[:200])
        self.producer = None

    def prune_if_due(self) -> tuple[int, int] | None:
        """Delete published outbox rows and inbox ids past retention, at most once per interval."""
        if time.monotonic() - self._pruned_at < self.settings.prune_interval_seconds:
            return None
        self._pruned_at = time.monotonic()
        before = datetime.now(UTC) - timedelta(days=self.settings.retention_days)
        with UnitOfWork(self.session_factory) as uow:
            outbox, inbox = uow.repo.prune(before)
            uow.commit()
        log.info("pruned", outbox_rows=outbox, inbox_ids=inbox, before=before.isoformat())
        return outbox, inbox

    def drain(self, timeout_batches: int = 20) -> None:
        """Publish what is left at shutdown, a bounded number of batches."""
        for _ in range(timeout_batches):
            try:
                if self.relay_once() == 0:
                    return
            except Exception as exc:
                log.warning("drain_incomplete", error=repr(exc)[:300])
                return

    def relay_once(self) -> int:
        """Publish one batch of the outbox; return how many rows were marked published."""
        assert self.producer is not None
        with UnitOfWork(self.session_factory) as uow:
            session = uow.session
            assert session is not None
            if uow.repo.dialect == "postgresql":
                if not session.execute(text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": _RELAY_LOCK}).scalar():
                    return 0
            rows = uow.repo.unpublished(self.settings.relay_batch_size)
            if not rows:
                return 0
            if uow.repo.dialect == "sqlite":
                # SQLite has one writer: do not hold it while waiting for the broker.
                session.commit()
            futures = [(row, self._send(row)) for row in rows]
            self.producer.flush(timeout=60)
            done: list[OutboxRow] = []
            for row, future in futures:
                try:
                    future.get(timeout=0)
                except Exception as exc:
                    log.warning("publish_failed", outbox_id=row.id, type=row.type, error=repr(exc)[:300])
                    break  # keep order: nothing after a failure is marked
                done.append(row)
            if done:
                published_at = datetime.now(UTC)
                uow.repo.mark_published([r.id for r in done], published_at)
                uow.commit()
                self.observer.published(
                    [Published(r.type, r.topic, r.created_at, r.trigger_time, published_at) for r in done]
                )
            for row in done:
                log.info(
                    "published",
                    event_id=row.event_id,
                    type=row.type,
                    topic=self.settings.topic(Topic(row.topic)),
                    student_id=row.student_id,
                    application_id=row.application_id,
                )
            self.published += len(done)
            if len(done) < len(rows):
                raise KafkaError(f"{len(rows) - len(done)} outbox messages not acknowledged")
            return len(done)

    def _send(self, row: OutboxRow) -> Any:
        assert self.producer is not None
        key, value, headers = record_of(row)
        return self.producer.send(self.settings.topic(Topic(row.topic)), key=key, value=value, headers=headers)
