"""Publishing a connector's events: all acknowledged by the broker, or an error."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import structlog
from kafka import KafkaProducer

from clearance.settings import Settings

log = structlog.get_logger("clearance.connectors")

# Every connector derives its ids in this namespace, so that ids of different systems never collide
# while the same row identity and version always gives the same id.
_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "urn:graduation-clearance:connectors")
_CONTENT_TYPE = ("content-type", b"application/cloudevents+json")
# How long one batch may take to be acknowledged before the pass fails (and is retried).
FLUSH_TIMEOUT_SECONDS = 120.0


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One contract event to publish: its Kafka key (the CloudEvent subject) and the CloudEvent dict."""

    key: str
    event: dict[str, Any]


def event_id(*identity: object) -> str:
    """Deterministic id: uuid5 over the source system's row identity and version.

    A re-read of the same row in the same version publishes the id the service's
    inbox already holds, so it changes nothing there (exactly-once in effect).
    The parts are joined unambiguously (``("a", "bc")`` and ``("ab", "c")`` differ).
    """
    return str(uuid.uuid5(_NAMESPACE, json.dumps([str(part) for part in identity], ensure_ascii=False)))


class PublishError(Exception):
    """Some record of a batch was not acknowledged by the broker; nothing of the batch may be checkpointed."""


class Publisher:
    """kafka-python producer with the service's settings (``Settings.kafka_client_options()``,
    acks=all, idempotent), on one deployed topic name.

    The producer is made on first use and dropped after a failure, so that a broker that is
    down when the connector starts, or that forgets the idempotent producer's id, is waited
    out by the runner's back-off instead of failing for good.
    """

    def __init__(self, settings: Settings, topic: str) -> None:
        self.settings = settings
        self.topic = topic
        self._producer: KafkaProducer | None = None
        self.acknowledged = 0  # records the broker acknowledged, over the publisher's life

    def _make(self) -> KafkaProducer:
        return KafkaProducer(
            **self.settings.kafka_client_options(),
            acks="all",
            enable_idempotence=True,
            max_in_flight_requests_per_connection=5,
            linger_ms=5,
            batch_size=256 * 1024,
            retries=2**31 - 1,
            delivery_timeout_ms=60_000,
            request_timeout_ms=30_000,
            max_request_size=1_048_576,
        )

    def publish(self, records: Sequence[Outgoing]) -> None:
        """Send every record, flush, and raise :class:`PublishError` unless every one was acknowledged."""
        if not records:
            return
        try:
            if self._producer is None:
                self._producer = self._make()
            producer = self._producer
            futures = [
                producer.send(
                    self.topic,
                    key=record.key.encode("utf-8"),
                    value=json.dumps(record.event, ensure_ascii=False, separators=(",", ":")).encode("utf-8"),
                    headers=[_CONTENT_TYPE],
                )
                for record in records
            ]
            producer.flush(timeout=FLUSH_TIMEOUT_SECONDS)
        except Exception as exc:
            self._discard()
            raise PublishError(f"sending to {self.topic} failed: {exc!r}"[:500]) from exc
        failed = 0
        first: BaseException | None = None
        for future in futures:
            try:
                future.get(timeout=0)
            except Exception as exc:
                failed += 1
                first = first or exc
        if failed:
            self._discard()
            raise PublishError(f"{failed} of {len(records)} records to {self.topic} not acknowledged: {first!r}"[:500])
        self.acknowledged += len(records)

    def _discard(self) -> None:
        producer, self._producer = self._producer, None
        if producer is None:
            return
        try:
            producer.close(timeout=1)
        except Exception as exc:  # a broken producer may fail to close too; it is dropped either way
            log.debug("producer_close_failed", error=repr(exc)[:200])

    def close(self) -> None:
        """Flush what is pending (bounded) and close the producer."""
        if self._producer is not None:
            self._producer.close(timeout=5)
            self._producer = None
