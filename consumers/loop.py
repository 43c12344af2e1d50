"""One consumer loop per inbound topic.

Each poll batch is validated, handed to :func:`clearance.services.batch.handle_batch`
in one database transaction, and only after that transaction commits are the
batch's offsets committed (G10). Bad records go to the dead-letter outbox in
the same transaction (G7). A database outage seeks back and retries the same
records with back-off; nothing is skipped.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import structlog
from kafka import KafkaConsumer, TopicPartition
from kafka.errors import KafkaError
from kafka.structs import OffsetAndMetadata
from sqlalchemy.orm import Session, sessionmaker

from clearance.domain.admission import future_stamps
from clearance.domain.freshness import SourceOffsets
from clearance.doorbell import Doorbell
from clearance.observability.observer import Observer
from clearance.services.batch import handle_batch
from clearance.services.results import BatchResult, Context, DeadLetter, ServiceFault
from clearance.settings import Settings
from clearance.store.errors import is_transient
from clearance.worker import Worker
from consumers.offsets import SourceOffsetReader
from consumers.streams import Streams
from schemas.registry import ErrorKind, InboundEvent, InvalidEvent, Topic, parse_event

log = structlog.get_logger("clearance.consumer")

# A failure that is not an outage (a bug, a constraint no retry will satisfy)
# is retried this many times before the batch is split to find the culprit.
_NON_TRANSIENT_RETRIES = 3


def is_service_fault(exc: BaseException) -> bool:
    """Whether the error is the service's own (its signing key, its disk), not the message's (G10)."""
    return isinstance(exc, ServiceFault | OSError | MemoryError)


def must_wait(exc: BaseException) -> bool:
    """Whether to wait the error out (nothing committed, back-off) rather than blame a record."""
    return is_transient(exc) or is_service_fault(exc)


class BeganAnew(Exception):
    """One of the loop's topics was made anew under its name: the batch is dropped and the new log re-read."""


@dataclass(frozen=True, slots=True)
class _Item:
    record: Any
    event: InboundEvent | None
    letter: DeadLetter | None


class ConsumerLoop(Worker):
    """Consumes one inbound family (its shared topic and its per-producer topics) until ``stop`` is set."""

    def __init__(
        self,
        settings: Settings,
        topic: Topic,
        session_factory: sessionmaker[Session],
        context: Context,
        stop: threading.Event,
        observer: Observer | None = None,
        streams: Streams | None = None,
        doorbell: Doorbell | None = None,
    ) -> None:
        super().__init__(settings, session_factory, stop, observer)
        self.streams = streams or Streams(settings, None)
        # Rung after a commit that wrote to the outbox: the relay publishes it without waiting for its poll.
        self.doorbell = doorbell or Doorbell()
        self.topic = topic
        self.name = settings.topic(topic)
        self.context = context
        self.skew = timedelta(seconds=settings.clock_skew_seconds)
        self.log = log.bind(topic=self.name)
        self.offsets: SourceOffsetReader = SourceOffsetReader(settings, own=topic, streams=self.streams)
        # The broker's id of each stream read so far: a new id means the topic began anew.
        self._topic_ids: dict[str, str] = {}
        self._sources: SourceOffsets | None = None
        self._resolve: Callable[[], SourceOffsets] = self._no_sources
        # Reads the sources' ends for a batch while the loop parses and folds it.
        self._offset_reader = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"offsets-{topic.value}")
        self._reported_at = 0.0
        self._subscribed: list[str] = []
        self._checked_at = 0.0

    def group_id(self) -> str:
        # One group per inbound topic: a rebalance on one topic never stalls the others.
        return f"{self.settings.group_id}.{self.topic.value}"

    def _consumer(self) -> KafkaConsumer:
        s = self.settings
        consumer = KafkaConsumer(
            **s.kafka_client_options(),
            group_id=self.group_id(),
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_poll_records=s.batch_max_records,
            session_timeout_ms=s.kafka_session_timeout_ms,
            heartbeat_interval_ms=s.kafka_heartbeat_interval_ms,
            max_poll_interval_ms=s.kafka_max_poll_interval_ms,
            fetch_max_bytes=64 * 1024 * 1024,
            max_partition_fetch_bytes=16 * 1024 * 1024,
            fetch_max_wait_ms=s.kafka_fetch_max_wait_ms,
        )
        # The topics by name, not by pattern: a pattern subscription rejoins the group in place when a topic
        # appears, and the embedded broker (Tansu) can leave that rejoin's SyncGroup unanswered for good.
        self._subscribed = self.offsets.family_topics(self.topic)
        consumer.subscribe(topics=self._subscribed)
        self._checked_at = time.monotonic()
        return consumer

    def _topics_changed(self) -> bool:
        """Whether a stream of the family appeared (or went) since the consumer subscribed; checked once a refresh."""
        if time.monotonic() - self._checked_at < self.settings.kafka_metadata_max_age_ms / 1000:
            return False
        self._checked_at = time.monotonic()
        current = self.offsets.family_topics(self.topic)
        if current == self._subscribed:
            return False
        self.log.info("topics_changed", subscribed=self._subscribed, now=current)
        return True

    def _connect(self) -> KafkaConsumer | None:
        """A consumer in the group, waiting out an unreachable broker; None when stopped first."""
        while not self.stop.is_set():
            try:
                return self._consumer()
            except KafkaError as exc:
                delay = self.backoff.next_delay()
                self.log.warning("broker_unreachable", error=str(exc), retry_in=round(delay, 2))
                self.stop.wait(delay)
        return None

    def run(self) -> None:
        """Poll, apply and commit until stopped; then commit what was applied and leave the group."""
        consumer = self._connect()
        if consumer is None:
            return
        self.backoff.reset()
        self.log.info("consumer_started", group_id=self.group_id())
        try:
            while not self.stop.is_set():
                batch = consumer.poll(timeout_ms=self.settings.poll_timeout_ms)
                if batch:
                    self.process(consumer, batch)
                else:
                    self._report_idle_positions(consumer)
                if self._topics_changed():
                    # Everything applied is committed: a new member, subscribed to the new list, joins afresh.
                    consumer.close(autocommit=False)
                    renewed = self._connect()
                    if renewed is None:
                        return
                    consumer = renewed
        finally:
            consumer.close(autocommit=False)
            self._offset_reader.shutdown(wait=True)
            self.offsets.close()
            self.log.info("consumer_stopped")

    def process(self, consumer: KafkaConsumer, batch: dict[TopicPartition, list[Any]]) -> bool:
        """Apply one poll batch; commit its offsets only once it is stored. Returns whether it was."""
        # Read after the batch arrived: anything published before its records is below these offsets.
        # The broker answers while the batch is parsed and folded; the handler waits for the answer
        # only where it needs it (the positions it stores, the freshness gate).
        reading = self._offset_reader.submit(self.offsets.snapshot)
        self._sources = None
        self._resolve = lambda: self._await_sources(consumer, reading)
        try:
            return self._apply(consumer, batch)
        finally:
            # The reader's clients also serve the loop itself (topic listing, idle positions): a batch
            # that failed before it needed the answer still waits for it, so they are never used at once.
            wait([reading])

    def _apply(self, consumer: KafkaConsumer, batch: dict[TopicPartition, list[Any]]) -> bool:
        now = self.settings.now()  # one clock reading for the batch's time-in-future checks
        items = [self._decode(record, now) for records in batch.values() for record in records]
        started = time.monotonic()
        positions = {self._key(tp.topic, tp.partition): records[-1].offset + 1 for tp, records in batch.items()}
        try:
            result = self._store(items, positions)
        except BeganAnew:
            return False  # nothing stored; the next poll reads the new log from its beginning
        except Exception as exc:
            waits = must_wait(exc)
            self.observer.batch_failed(self.name, exc, waits)
            if waits:
                return self._wait_out(consumer, batch, exc)
            self.log.error("batch_failed", error=repr(exc), records=len(items))
            try:
                outcome = self._store_one_by_one(items)
            except BeganAnew:
                return False
            if isinstance(outcome, BaseException):
                return self._wait_out(consumer, batch, outcome)
            result = outcome
        self.backoff.reset()
        if result.messages or result.dead_lettered:
            self.doorbell.ring()
        self.observer.service_fault(self.name, None)
        self._commit(consumer, batch)
        self.observer.batch_applied(self.name, result, time.monotonic() - started)
        return True

    def _await_sources(self, consumer: KafkaConsumer, reading: Future[SourceOffsets]) -> SourceOffsets:
        """The sources' ends read for this batch, once; raises :class:`BeganAnew` if one of the loop's topics did."""
        if self._sources is None:
            sources = reading.result()
            if self._began_anew(consumer, sources.topic_ids):
                raise BeganAnew
            self._sources = sources
        return self._sources

    @staticmethod
    def _no_sources() -> SourceOffsets:
        raise RuntimeError("no batch is being processed")

    def _report_idle_positions(self, consumer: KafkaConsumer) -> None:
        """Store the positions of idle partitions, so that an empty or trimmed partition counts as applied."""
        now = time.monotonic()
        if now - self._reported_at < self.settings.position_report_seconds:
            return
        self._reported_at = now
        try:
            positions = {self._key(tp.topic, tp.partition): consumer.position(tp) for tp in consumer.assignment()}
            # The ids after the positions: a topic made anew in between is noticed, not mislabelled.
            ids = self.offsets.topic_ids()
            if self._began_anew(consumer, ids) or not positions:
                return
            with self.unit_of_work() as uow:
                uow.positions.save(positions, self.settings.now(), ids)
                uow.commit()
        except Exception as exc:  # the next batch or report tries again
            # The freshness gate holds clearances until these positions are stored: say so.
            self.observer.positions_not_saved(self.name, exc)
            self.log.warning("position_report_failed", error=repr(exc)[:200])

    def _key(self, deployed: str, partition: int) -> tuple[str, int]:
        """A partition as positions are stored: (stream, partition), the stream being the name without the prefix."""
        return self.streams.stream(deployed), partition

    def _began_anew(self, consumer: KafkaConsumer, topic_ids: Mapping[str, str | None]) -> bool:
        """Whether one of the loop's topics was deleted and made again under its name (a new id); if so, re-read it.

        Offsets of the old log mean nothing in the new one. Apache Kafka and Tansu
        alike serve a fetch at an old position from the new log if it is long
        enough, silently skipping what lies below; Tansu, after a restart that
        emptied it, answers a fetch past the end with no records and no error, and
        the consumer would wait there for ever. Re-reading is harmless: the inbox
        drops what was applied before.
        """
        anew = []
        for stream, topic_id in topic_ids.items():
            if Streams.family(stream) is not self.topic or topic_id is None:
                continue
            known = self._topic_ids.get(stream)
            if known is not None and known != topic_id:
                anew.append(stream)
                self.log.warning("topic_began_anew", stream=stream, previous_topic_id=known, topic_id=topic_id)
            self._topic_ids[stream] = topic_id
        if anew:
            # Unassigned partitions start from the group's offsets, which are the new log's.
            again = [tp for tp in consumer.assignment() if self.streams.stream(tp.topic) in anew]
            if again:
                consumer.seek_to_beginning(*again)
        return bool(anew)

    def _decode(self, record: Any, now: datetime) -> _Item:
        size = len(record.key or b"") + len(record.value or b"")
        if size > self.settings.max_record_bytes:
            message = f"record of {size} bytes (key and value) is over the limit of {self.settings.max_record_bytes}"
            return _Item(record, None, self._letter(record, ErrorKind.TOO_LARGE.value, message))
        try:
            event = parse_event(record.value, self.topic)
        except InvalidEvent as exc:
            return _Item(record, None, self._letter(record, exc.kind.value, exc.message))
        trust = self.streams.trust
        refused = trust.refusal(self.streams.stream(record.topic), event) if trust is not None else None
        if refused is not None:
            return _Item(record, None, self._letter(record, ErrorKind.UNAUTHORIZED.value, refused))
        future = future_stamps(event, now, self.skew)
        if future:
            message = f"timestamps later than now plus {self.skew}: {', '.join(future)}"
            return _Item(record, None, self._letter(record, ErrorKind.TIME_IN_FUTURE.value, message))
        return _Item(record, event, None)

    def _letter(self, record: Any, kind: str, message: str) -> DeadLetter:
        return DeadLetter(
            origin_topic=record.topic,
            origin_partition=record.partition,
            origin_offset=record.offset,
            key=record.key,
            value=record.value,
            kind=kind,
            message=message,
        )

    def _store(self, items: Sequence[_Item], positions: Mapping[tuple[str, int], int]) -> BatchResult:
        """Apply ``items`` in one transaction, with ``positions``: the next offsets the stored data covers."""
        events = [i.event for i in items if i.event is not None]
        letters = [i.letter for i in items if i.letter is not None]
        attempt = 0
        while True:
            try:
                with self.unit_of_work() as uow:
                    result = handle_batch(uow, events, letters, self.context, positions=positions,
                                          sources=self._resolve, fresh_sources=self.offsets.snapshot)  # fmt: skip
                    uow.commit()
                break
            except BeganAnew:
                raise
            except Exception as exc:
                attempt += 1
                # A concurrent instance applying the same event during a
                # rebalance makes the inbox insert fail; the retry sees it as seen.
                if must_wait(exc) or attempt >= _NON_TRANSIENT_RETRIES:
                    raise
                self.log.warning("batch_retry", error=repr(exc), attempt=attempt)
        self.log.info(
            "batch_applied",
            records=len(items),
            applied=result.applied,
            duplicates=result.duplicates,
            dead_lettered=result.dead_lettered,
            decisions=result.decisions,
            issued=len(result.issued),
            revoked=len(result.revoked),
        )
        return result

    def _store_one_by_one(self, items: Sequence[_Item]) -> BatchResult | BaseException:
        """Find the records that fail on their own and dead-letter them, so the stream goes on.

        Each record is stored with the position just after it, never with the batch's:
        the freshness gate must not count as applied a record not yet stored. Returns
        the error when an outage or a fault of the service interrupts the search (the
        rest of the batch is retried whole).
        """
        total = BatchResult()
        for item in items:
            after = {self._key(item.record.topic, item.record.partition): item.record.offset + 1}
            try:
                result = self._store([item], after)
            except BeganAnew:
                raise
            except Exception as exc:
                if must_wait(exc):
                    return exc
                letter = self._letter(item.record, ErrorKind.PROCESSING_FAILED.value, f"{type(exc).__name__}: {exc}")
                try:
                    result = self._store([_Item(item.record, None, letter)], after)
                except Exception as inner:
                    self.log.error("dead_letter_failed", error=repr(inner))
                    return inner
            total.merge(result)
        return total

    def _wait_out(self, consumer: KafkaConsumer, batch: dict[TopicPartition, list[Any]], exc: BaseException) -> bool:
        # Seek back so the next poll returns the same records: the loop keeps
        # polling (and so keeps its place in the group) while the outage lasts.
        for tp, records in batch.items():
            try:
                consumer.seek(tp, records[0].offset)
            except (KafkaError, AssertionError, ValueError) as seek_error:  # partition revoked meanwhile
                self.log.info("seek_skipped", partition=tp.partition, error=str(seek_error))
        delay = self.backoff.next_delay()
        if is_service_fault(exc):
            # Not the message's fault: nothing is dead-lettered, /readyz fails until a batch passes.
            self.observer.service_fault(self.name, exc)
            self.log.error("service_fault", error=f"{type(exc).__name__}: {exc}"[:300], retry_in=round(delay, 2))
        else:
            self.log.warning("store_unavailable", error=str(exc).splitlines()[0][:300], retry_in=round(delay, 2))
        self.stop.wait(delay)
        return False

    def _commit(self, consumer: KafkaConsumer, batch: dict[TopicPartition, list[Any]]) -> None:
        offsets = {tp: OffsetAndMetadata(records[-1].offset + 1, "", -1) for tp, records in batch.items()}
        started = time.monotonic()
        try:
            consumer.commit(offsets=offsets)
        except KafkaError as exc:
            # The work is stored; a re-delivery after a rebalance is dropped by the inbox.
            self.log.warning("offset_commit_failed", error=str(exc), seconds=round(time.monotonic() - started, 3))
