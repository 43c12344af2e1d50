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
from kafka import errors as kafka_errors
from kafka.errors import KafkaError
from sqlalchemy import Row
from sqlalchemy.orm import Session, sessionmaker

from clearance.doorbell import Doorbell
from clearance.observability.observer import Observer, Published
from clearance.settings import Settings
from clearance.store.errors import is_transient
from clearance.worker import Worker
from schemas.registry import Topic

log = structlog.get_logger("clearance.relay")

# How soon a relay locked out by another instance's tries again, however long its idle wait.
_LOCKED_OUT_WAIT = 0.05



def record_of(row: Row[Any]) -> tuple[bytes | None, bytes | None, list[tuple[str, bytes]]]:
    """Key, value and headers of an outbox row as the producer sends them."""
    return row.key, row.value, [(k, v.encode("utf-8")) for k, v in json.loads(row.headers)]


class OutboxRelay(Worker):
    """Publishes the outbox until ``stop`` is set."""

    def __init__(
        self,
        settings: Settings,
        session_factory: sessionmaker[Session],
        stop: threading.Event,
        producer: KafkaProducer | None = None,
        observer: Observer | None = None,
        doorbell: Doorbell | None = None,
    ) -> None:
        super().__init__(settings, session_factory, stop, observer)
        self.producer = producer
        # Rung by the consumer loops' commits; without one the relay polls every relay_idle_seconds.
        self.doorbell = doorbell or Doorbell()
        self.published = 0
        # Whether the last read found another instance's relay publishing (PostgreSQL's advisory lock).
        self.locked_out = False
        self._pruned_at = time.monotonic()

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
            max_request_size=self.settings.max_message_bytes,
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
                    # Locked out by another instance's relay: its turn is short, and the rows may be ours.
                    idle = self.settings.relay_idle_seconds
                    self.doorbell.wait(min(idle, _LOCKED_OUT_WAIT) if self.locked_out else idle)
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
        with self.unit_of_work() as uow:
            outbox, inbox = uow.outbox.prune(before), uow.inbox.prune(before)
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
        """Publish one batch of each lane of the outbox; return how many rows were marked published.

        Certificates and statuses go first, dead letters after them in a lane of their own,
        so that neither a flood of dead letters nor one the broker refuses delays a certificate.
        """
        assert self.producer is not None
        published = self._relay_lane(dead_letters=False)
        return published + self._relay_lane(dead_letters=True)

    def _relay_lane(self, dead_letters: bool) -> int:
        assert self.producer is not None
        with self.unit_of_work() as uow:
            self.locked_out = not uow.outbox.lock_relay()
            if self.locked_out:
                return 0
            rows = uow.outbox.unpublished(self.settings.relay_batch_size, dead_letters=dead_letters)
            if not rows:
                return 0
            if not uow.dialect.postgresql:
                # SQLite has one writer: do not hold it while waiting for the broker.
                uow.session.commit()
            sent = [(row, self._send(row)) for row in rows]
            self.producer.flush(timeout=60)
            done: list[Row[Any]] = []
            refused: list[tuple[Row[Any], BaseException]] = []
            failed = 0
            for row, future in sent:
                error = _error_of(future)
                if error is None:
                    done.append(row)
                elif refused_for_good(error):
                    refused.append((row, error))  # set aside: it holds up nothing behind it
                else:
                    log.warning("publish_failed", outbox_id=row.id, type=row.type, error=repr(error)[:300])
                    failed = len(rows) - len(done) - len(refused)
                    break  # keep order: nothing after a failure that may pass later is marked
            now = datetime.now(UTC)
            if done:
                uow.outbox.mark_published([r.id for r in done], now)
            for row, error in refused:
                uow.outbox.set_aside(row.id, now, f"{type(error).__name__}: {error}")
                log.error("set_aside", outbox_id=row.id, type=row.type, student_id=row.student_id,
                          application_id=row.application_id, error=repr(error)[:300])  # fmt: skip
            if done or refused:
                uow.commit()
            if refused:
                self.observer.set_aside([(r.type, r.topic) for r, _ in refused])
            if done:
                self.observer.published([Published(r.type, r.topic, r.created_at, r.trigger_time, now) for r in done])
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
            if failed:
                raise KafkaError(f"{failed} outbox messages not acknowledged")
            return len(done)

    def _send(self, row: Row[Any]) -> Any:
        assert self.producer is not None
        key, value, headers = record_of(row)
        try:
            return self.producer.send(self.settings.topic(Topic(row.topic)), key=key, value=value, headers=headers)
        except KafkaError as exc:  # kafka-python refuses an oversized record in send() itself
            return exc


def _error_of(future: Any) -> BaseException | None:
    if isinstance(future, BaseException):
        return future
    try:
        future.get(timeout=0)
    except Exception as exc:
        return exc
    return None


# Refusals no retry will cure: the record itself is wrong for the broker.
_FOR_GOOD = (
    kafka_errors.MessageSizeTooLargeError,
    kafka_errors.RecordListTooLargeError,
    kafka_errors.InvalidRecordError,
    kafka_errors.CorruptRecordError,
    kafka_errors.InvalidTimestampError,
    kafka_errors.UnsupportedForMessageFormatError,
)


def refused_for_good(error: BaseException) -> bool:
    """Whether the broker (or the client before it) refused a record for a reason that will never pass."""
    return isinstance(error, _FOR_GOOD)
