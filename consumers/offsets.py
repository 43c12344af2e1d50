"""Reading how far the source topics reach, for the freshness gate.

The end of a partition is not taken from the broker's ListOffsets answer
alone. Tansu 0.6 (the embedded broker) answers ListOffsets(latest) with the
base offset of the partition's last record batch plus one, short of the real
end whenever that batch holds more than one record; a gate trusting it would
call a lagging source current and let a certificate through. So the reader
fetches from one below that answer and takes the end past the last record the
fetch returns. On Apache Kafka, whose answer is right, that costs one small
fetch of the last record.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import structlog
from kafka import KafkaConsumer, TopicPartition
from kafka.errors import KafkaError

from clearance.freshness import SOURCES, SourceOffsets
from clearance.settings import Settings

log = structlog.get_logger("clearance.freshness")


class EndOffsetsUnknown(Exception):
    """The broker could not say where a partition ends."""


def end_offsets(
    probe: KafkaConsumer, partitions: Sequence[TopicPartition], timeout: float = 5.0
) -> dict[TopicPartition, int]:
    """The offset after the last record of each partition, right on Tansu as on Kafka.

    ``probe`` must be a consumer without a group, used by nobody else: its
    assignment is replaced.
    """
    listed = {tp: int(end) for tp, end in probe.end_offsets(list(partitions)).items() if end is not None}
    if len(listed) < len(partitions):
        raise EndOffsetsUnknown(f"no end offset for {sorted(set(partitions) - set(listed))}")
    ends = dict(listed)
    unconfirmed = {tp for tp, end in listed.items() if end > 0}
    if not unconfirmed:
        return ends
    probe.assign(sorted(unconfirmed))
    for tp in unconfirmed:
        probe.seek(tp, listed[tp] - 1)
    deadline = time.monotonic() + timeout
    while unconfirmed:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise EndOffsetsUnknown(f"no fetch answered for {sorted(unconfirmed)} within {timeout}s")
        for tp, records in probe.poll(timeout_ms=int(min(remaining, 0.5) * 1000)).items():
            if records:
                ends[tp] = max(ends[tp], records[-1].offset + 1)
                unconfirmed.discard(tp)
        for tp in list(unconfirmed):
            # Records at and after the probed offset may all have been deleted (retention, compaction).
            if probe.position(tp) >= listed[tp]:
                unconfirmed.discard(tp)
    return ends


def probe_consumer(settings: Settings) -> KafkaConsumer:
    """A consumer without a group, for reading end offsets."""
    return KafkaConsumer(
        **settings.kafka_client_options(),
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="latest",
        fetch_max_wait_ms=50,
        max_poll_records=100_000,
        # Asking about a topic must not create it (Tansu would, with four partitions).
        allow_auto_create_topics=False,
    )


class SourceOffsetReader:
    """Reads the end offsets of every partition of the source topics, with a probe consumer of its own."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._probe: KafkaConsumer | None = None

    def _source_partitions(self, probe: KafkaConsumer) -> list[TopicPartition]:
        partitions = []
        for source in SOURCES:
            name = self.settings.topic(source)
            for p in sorted(probe.partitions_for_topic(name) or ()):
                partitions.append(TopicPartition(name, p))
        return partitions

    def snapshot(self) -> SourceOffsets:
        """The end offsets now; ``end_offsets`` None when the broker could not say (sources count as behind)."""
        try:
            if self._probe is None:
                self._probe = probe_consumer(self.settings)
            partitions = self._source_partitions(self._probe)
            if not partitions:
                return SourceOffsets(end_offsets=None)
            ends = end_offsets(self._probe, partitions)
        except (KafkaError, AssertionError, EndOffsetsUnknown) as exc:
            log.warning("end_offsets_unavailable", error=str(exc)[:200])
            return SourceOffsets(end_offsets=None)
        by_logical = {}
        for tp, end in ends.items():
            topic = self.settings.logical_topic(tp.topic)
            if topic is not None:
                by_logical[(topic.value, tp.partition)] = end
        return SourceOffsets(end_offsets=by_logical)

    def close(self) -> None:
        """Close the probe consumer."""
        if self._probe is not None:
            self._probe.close()
            self._probe = None
