"""The broker's low and high watermarks of the inbound topics, for consumer lag and the readiness check."""

from __future__ import annotations

import threading

from kafka import KafkaConsumer, TopicPartition
from kafka.errors import KafkaError

from clearance.settings import Settings
from consumers.offsets import EndOffsetsUnknown, end_offsets
from schemas.registry import INBOUND_TOPICS


class BrokerUnavailable(Exception):
    """The broker did not answer (in time)."""


class TopicWatermarks:
    """Asks the broker, with bounded waits, for the first and next offsets of every inbound partition.

    One consumer without a group, created on first use and kept; a lock makes
    it safe to share between the metrics poller and a request handler.
    """

    def __init__(self, settings: Settings, timeout_ms: int = 5000) -> None:
        self.settings = settings
        self.timeout_ms = timeout_ms
        self._consumer: KafkaConsumer | None = None
        self._lock = threading.Lock()

    def _client(self) -> KafkaConsumer:
        if self._consumer is None:
            self._consumer = KafkaConsumer(
                **self.settings.kafka_client_options(),
                group_id=None,
                enable_auto_commit=False,
                request_timeout_ms=self.timeout_ms,
                bootstrap_timeout_ms=self.timeout_ms,
                reconnect_backoff_max_ms=self.timeout_ms,
                # Asking about a topic must not create it (Tansu and some brokers would).
                allow_auto_create_topics=False,
            )
        return self._consumer

    def read(self) -> dict[tuple[str, int], tuple[int, int]]:
        """(logical topic, partition) -> (first offset, next offset); raises :class:`BrokerUnavailable`."""
        with self._lock:
            try:
                consumer = self._client()
                partitions = [
                    TopicPartition(self.settings.topic(topic), p)
                    for topic in INBOUND_TOPICS
                    for p in sorted(consumer.partitions_for_topic(self.settings.topic(topic)) or ())
                ]
                if not partitions:
                    raise BrokerUnavailable("the broker reports no partitions for the inbound topics")
                low = consumer.beginning_offsets(partitions, timeout_ms=self.timeout_ms)
                high = end_offsets(consumer, partitions, timeout=self.timeout_ms / 1000)
            except BrokerUnavailable:
                raise
            except (KafkaError, AssertionError, OSError, EndOffsetsUnknown) as exc:
                self._close_client()
                raise BrokerUnavailable(f"{type(exc).__name__}: {exc}") from exc
        found: dict[tuple[str, int], tuple[int, int]] = {}
        for tp in partitions:
            logical = self.settings.logical_topic(tp.topic)
            if logical is not None:
                found[(logical.value, tp.partition)] = (int(low[tp]), int(high[tp]))
        return found

    def _close_client(self) -> None:
        # A fresh client after a failure: kafka-python's metadata can stay stale after a broker restart.
        if self._consumer is not None:
            try:
                self._consumer.close(autocommit=False)
            except Exception:  # closing a broken client must not hide the original error
                pass
            self._consumer = None

    def close(self) -> None:
        """Release the broker connection."""
        with self._lock:
            self._close_client()
