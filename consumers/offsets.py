"""Reading the end offsets of the source topics for the freshness gate."""

from __future__ import annotations

import structlog
from kafka import KafkaConsumer, TopicPartition
from kafka.errors import KafkaError

from clearance.freshness import SOURCES, SourceOffsets
from clearance.settings import Settings

log = structlog.get_logger("clearance.freshness")


class SourceOffsetReader:
    """Asks the broker for the end offsets of every partition of the source topics."""

    def __init__(self, settings: Settings, consumer: KafkaConsumer | None = None) -> None:
        self.settings = settings
        self.consumer = consumer
        self._partitions: list[TopicPartition] = []

    def bind(self, consumer: KafkaConsumer) -> None:
        """Use ``consumer`` (owned by the calling thread) for the requests."""
        self.consumer = consumer

    def _source_partitions(self) -> list[TopicPartition]:
        assert self.consumer is not None
        partitions = []
        for source in SOURCES:
            name = self.settings.topic(source)
            for p in sorted(self.consumer.partitions_for_topic(name) or ()):
                partitions.append(TopicPartition(name, p))
        return partitions

    def snapshot(self) -> SourceOffsets:
        """The end offsets now; ``end_offsets`` None when the broker could not say (sources count as behind)."""
        if self.consumer is None:
            return SourceOffsets(end_offsets=None)
        try:
            partitions = self._source_partitions()
            if not partitions:
                return SourceOffsets(end_offsets=None)
            ends = self.consumer.end_offsets(partitions)
        except (KafkaError, AssertionError) as exc:
            log.warning("end_offsets_unavailable", error=str(exc)[:200])
            return SourceOffsets(end_offsets=None)
        by_logical = {}
        for tp, end in ends.items():
            topic = self.settings.logical_topic(tp.topic)
            if topic is not None and end is not None:
                by_logical[(topic.value, tp.partition)] = int(end)
        return SourceOffsets(end_offsets=by_logical)
