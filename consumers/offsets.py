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

import re
import time
from collections.abc import Sequence

import structlog
from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition

from clearance.domain.freshness import SOURCES, SourceOffsets
from clearance.settings import Settings
from consumers.streams import Streams
from schemas.registry import Topic

log = structlog.get_logger("clearance.freshness")


class EndOffsetsUnknown(Exception):
    """The broker could not say where a partition ends."""


def end_offsets(
    probe: KafkaConsumer,
    partitions: Sequence[TopicPartition],
    timeout: float = 5.0,
    confirmed: dict[TopicPartition, tuple[int, int]] | None = None,
) -> dict[TopicPartition, int]:
    """The offset after the last record of each partition, right on Tansu as on Kafka.

    ``probe`` must be a consumer without a group, used by nobody else: its
    assignment is replaced. ``confirmed`` (ListOffsets answer and confirmed end
    per partition, kept by the caller for one incarnation of the topics) saves
    the fetch while a partition's answer is unchanged: every record appended
    opens a batch at a new base offset, so an unchanged answer means an
    unchanged end.
    """
    try:
        answer = probe.end_offsets(list(partitions), timeout_ms=int(timeout * 1000))
    except KeyError as exc:  # kafka-python 3.0 indexes a partial ListOffsets answer without checking it
        raise EndOffsetsUnknown(f"no end offset for {exc}") from exc
    listed = {tp: int(end) for tp, end in answer.items() if end is not None}
    if len(listed) < len(partitions):
        raise EndOffsetsUnknown(f"no end offset for {sorted(set(partitions) - set(listed))}")
    known = confirmed if confirmed is not None else {}
    ends = {tp: known[tp][1] if tp in known and known[tp][0] == end else end for tp, end in listed.items()}
    unconfirmed = {tp for tp, end in listed.items() if end > 0 and not (tp in known and known[tp][0] == end)}
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
                # The fetch answer's high watermark is right on Tansu too; the records returned
                # may stop short of it (the client hands out at most max_poll_records at once).
                ends[tp] = max(ends[tp], records[-1].offset + 1, probe.highwater(tp) or 0)
                unconfirmed.discard(tp)
        for tp in list(unconfirmed):
            # Records at and after the probed offset may all have been deleted (retention, compaction).
            if probe.position(tp) >= listed[tp]:
                unconfirmed.discard(tp)
    if confirmed is not None:
        confirmed.update({tp: (listed[tp], ends[tp]) for tp in listed})
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
    """Reads the end offsets and topic ids of the source streams, with clients of its own.

    The source streams are the source topics and their per-producer topics
    (:class:`~consumers.streams.Streams`), found on the broker. ``own`` is the
    family of the consumer that asks: its streams' ids are read too, so the
    consumer notices when one of its topics began anew under the same name.
    """

    def __init__(self, settings: Settings, own: Topic | None = None, streams: Streams | None = None) -> None:
        self.settings = settings
        self.streams = streams or Streams(settings, None)
        self.families = tuple(dict.fromkeys([*SOURCES, *([own] if own is not None else [])]))
        self._sources = re.compile(self.streams.pattern(*SOURCES))
        self._all = re.compile(self.streams.pattern(*self.families))
        self._names: list[str] = []
        self._listed_at = float("-inf")
        self._probe: KafkaConsumer | None = None
        self._admin: KafkaAdminClient | None = None
        # Confirmed ends of the source partitions, valid for the topic ids they were read under.
        self._confirmed: dict[TopicPartition, tuple[int, int]] = {}
        self._confirmed_ids: dict[str, str | None] | None = None

    def _topics(self) -> list[str]:
        """The deployed names of the streams read, listed afresh once per metadata refresh period."""
        if time.monotonic() - self._listed_at > self.settings.kafka_metadata_max_age_ms / 1000:
            if self._admin is None:
                self._admin = KafkaAdminClient(**self.settings.kafka_client_options())
            listed = {self.settings.topic(t) for t in self.families} | set(self._admin.list_topics())
            self._names = sorted(name for name in listed if self._all.match(name))
            self._listed_at = time.monotonic()
        return self._names

    def family_topics(self, family: Topic) -> list[str]:
        """The deployed names of ``family``'s streams on the broker now (its shared topic at least)."""
        pattern = re.compile(self.streams.pattern(family))
        try:
            listed = self._topics()
        except Exception as exc:  # the broker could not list them: keep reading what is known
            log.warning("topics_unlisted", error=repr(exc)[:200])
            self.close()
            listed = self._names
        return sorted({self.settings.topic(family), *(name for name in listed if pattern.match(name))})

    def topic_ids(self) -> dict[str, str | None]:
        """The broker's id of each stream read (stream name to id; None where it has none)."""
        names = self._topics()
        assert self._admin is not None
        ids: dict[str, str | None] = {}
        for topic in self._admin.describe_topics(names):
            ids[self.streams.stream(topic["name"])] = topic.get("topic_id") if topic.get("error_code", 0) == 0 else None
        return ids

    def _source_partitions(self, probe: KafkaConsumer) -> list[TopicPartition]:
        partitions = []
        for name in self._topics():
            if self._sources.match(name):
                partitions.extend(TopicPartition(name, p) for p in sorted(probe.partitions_for_topic(name) or ()))
        return partitions

    def snapshot(self) -> SourceOffsets:
        """The end offsets now; ``end_offsets`` None when the broker could not say (sources count as behind)."""
        try:
            if self._probe is None:
                self._probe = probe_consumer(self.settings)
            partitions = self._source_partitions(self._probe)
            ends = end_offsets(self._probe, partitions, confirmed=self._confirmed) if partitions else None
            # The ids after the offsets: should a topic begin anew in between, positions stored
            # against its old log no longer count, and the old log's ends can only hold a decision back.
            ids = self.topic_ids()
            if ids != self._confirmed_ids:
                stale = self._confirmed_ids is not None
                self._confirmed.clear()
                self._confirmed_ids = ids
                if stale:  # ends confirmed in another incarnation may have stood in: ask again next time
                    return SourceOffsets(end_offsets=None, topic_ids=ids)
            if ends is None:
                return SourceOffsets(end_offsets=None, topic_ids=ids)
        except Exception as exc:  # whatever the client raised: the sources count as behind, the loop goes on
            log.warning("end_offsets_unavailable", error=repr(exc)[:200])
            self.close()  # a client left in a bad state is made anew on the next snapshot
            return SourceOffsets(end_offsets=None)
        by_stream = {(self.streams.stream(tp.topic), tp.partition): end for tp, end in ends.items()}
        return SourceOffsets(end_offsets=by_stream, topic_ids=ids)

    def close(self) -> None:
        """Close the clients."""
        if self._probe is not None:
            self._probe.close()
            self._probe = None
        if self._admin is not None:
            self._admin.close()
            self._admin = None
        self._listed_at = float("-inf")
