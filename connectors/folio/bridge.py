"""The FOLIO bridge: FOLIO's Kafka topics in, the contract's circulation events out.

A pass reads until it has caught up with FOLIO's topics, batch by batch; each batch is
polled, mapped, published (every event acknowledged by our broker), its state written,
and only then are FOLIO's offsets committed. A batch that fails anywhere is read
again (the consumer seeks back), and its events carry the same ids, so the service's
inbox drops what it already has.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import structlog
from kafka.consumer.fetcher import ConsumerRecord

from connectors.folio.contract import BridgeConfig, Mapped
from connectors.folio.fines import map_balance_event
from connectors.folio.mapping import map_loan_event, map_user_event
from connectors.folio.records import UnmappableRecord
from connectors.folio.snapshot import restatement
from connectors.folio.source import FolioSource, Stream
from connectors.folio.state import state_keys
from connectors.runtime import Outgoing, PassResult, Publisher, StateStore

log = structlog.get_logger("clearance.connectors.folio")


class FolioBridge:
    """The ``folio`` connector (the runtime's ``Connector`` protocol)."""

    name = "folio"

    def __init__(
        self,
        config: BridgeConfig,
        source: FolioSource,
        *,
        batch_size: int = 2000,
        poll_timeout_ms: int = 1000,
        join_wait_seconds: float = 30.0,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.config = config
        self.source = source
        self.batch_size = batch_size
        self.poll_timeout_ms = poll_timeout_ms
        self.join_wait_seconds = join_wait_seconds
        self.clock = clock

    def run_pass(self, publisher: Publisher, state: StateStore) -> PassResult:
        """Read FOLIO's topics up to their end, publishing and committing batch by batch."""
        result = PassResult()
        started = time.monotonic()
        while True:
            records = self.source.poll(self.batch_size, self.poll_timeout_ms)
            if records:
                self._batch(records, publisher, state, result)
                continue
            if self.source.caught_up():
                break
            if not self.source.assigned() and time.monotonic() - started > self.join_wait_seconds:
                log.warning("folio.no_partitions", pattern=self.source.topics.pattern, waited=self.join_wait_seconds)
                break
        return result

    def _batch(
        self, records: list[ConsumerRecord], publisher: Publisher, state: StateStore, result: PassResult
    ) -> None:
        changes: dict[str, Any | None] = {}
        known = state.get_many({key for record in records for key in self.state_keys(record)})

        def lookup(key: str) -> Any | None:
            if key in changes:
                return changes[key]
            return known[key] if key in known else state.get(key)

        now = self.clock()
        events: list[Outgoing] = []
        unmappable = 0
        for record in records:
            try:
                mapped = self.map_record(record, lookup, now)
            except UnmappableRecord as exc:
                unmappable += 1
                log.warning(
                    "folio.record_unmappable", topic=record.topic, partition=record.partition, offset=record.offset,
                    identity=exc.identity or None, reason=exc.reason,
                )  # fmt: skip
                continue
            events.extend(mapped.events)
            changes.update(mapped.changes)
        try:
            publisher.publish(events)
            state.put(changes)
        except Exception:
            self.source.rewind(records)
            raise
        self.source.commit()
        result.published += len(events)
        result.unmappable += unmappable
        log.info("folio.batch", records=len(records), published=len(events), unmappable=unmappable)

    def state_keys(self, record: ConsumerRecord) -> list[str]:
        """The state keys mapping ``record`` will read, to fetch a batch's in a few queries."""
        return state_keys(self.source.topics.stream(record.topic), record.value)

    def map_record(self, record: ConsumerRecord, lookup: Callable[[str], Any | None], now: datetime) -> Mapped:
        """The events and state changes of one FOLIO record, by the stream its topic belongs to."""
        stream = self.source.topics.stream(record.topic)
        if stream is Stream.LOANS:
            return map_loan_event(record.value, lookup, self.config, now)
        if stream is Stream.USERS:
            return map_user_event(record.value, lookup, self.config, now)
        if stream is Stream.FINES:
            at = None
            # CreateTime (when mod-pubsub sent it) or LogAppendTime: the payload itself has no time.
            if record.timestamp is not None and record.timestamp >= 0:
                at = datetime.fromtimestamp(record.timestamp / 1000, UTC)
            position = f"{record.topic}/{record.partition}/{record.offset}"
            return map_balance_event(record.value, position, at, lookup, self.config, now)
        raise UnmappableRecord(f"topic {record.topic} is none of the bridge's")

    def close(self) -> None:
        self.source.close()


def resync(
    config: BridgeConfig, publisher: Publisher, state: StateStore, user: str | None, now: datetime, chunk: int = 500
) -> int:
    """Publish the snapshot (and link) of ``user``, or of every patron the state knows; return how many events."""
    per_user = restatement(state.scan("patron/"), state.scan("loan/"), state.scan("account/"), config, now, only=user)
    pending: list[Outgoing] = []
    published = 0
    for events in per_user.values():
        pending.extend(events)
        if len(pending) >= chunk:
            publisher.publish(pending)
            published += len(pending)
            pending = []
    publisher.publish(pending)
    published += len(pending)
    log.info("folio.resync", patrons=len(per_user), published=published)
    return published
