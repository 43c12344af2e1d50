"""Whether the store is current enough to issue a certificate (the freshness gate).

A certificate must not be issued from a stale view: if the circulation or
deposit stream holds records that were published before the decision's
trigger but are not applied yet, a loan or a rejection may be among them.
The consumers store, in the same transaction as the data, the offset up to
which each partition is applied; the adapter gives the domain the end
offsets of the source topics read *after* the trigger arrived. A source is
current when every partition is applied up to that end offset. Pure: no
clock, no Kafka.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from clearance.domain.trust import family_of
from schemas.registry import Topic

SOURCES: tuple[Topic, ...] = (Topic.CIRCULATION, Topic.DEPOSITS)


@dataclass(frozen=True, slots=True)
class SourceOffsets:
    """End offsets of the source topics' partitions, read after the trigger arrived.

    ``end_offsets`` is None when the broker could not be asked: every source
    then counts as behind.
    """

    end_offsets: Mapping[tuple[str, int], int] | None
    # The broker's id of each logical topic read with them (the sources, and the reading
    # consumer's own topic): an applied position counts only in the topic it was stored for.
    topic_ids: Mapping[str, str | None] = field(default_factory=dict)


def sources_behind(snapshot: SourceOffsets, applied: Mapping[tuple[str, int], int]) -> tuple[str, ...]:
    """The logical source topics that hold published records not yet applied.

    ``applied`` maps (stream, partition) to the next offset to apply; a
    partition with no entry has applied nothing. A stream is a source topic or
    one of its per-producer topics (``library.circulation.fk-teknik``).
    """
    if snapshot.end_offsets is None:
        return tuple(s.value for s in SOURCES)
    families = tuple(s.value for s in SOURCES)
    behind = {
        stream
        for (stream, partition), end in snapshot.end_offsets.items()
        if family_of(stream, families) is not None and applied.get((stream, partition), 0) < end
    }
    return tuple(sorted(behind))


def source_streams(snapshot: SourceOffsets) -> list[str]:
    """The streams (shared and per-producer source topics) the snapshot read ends of."""
    return sorted({stream for stream, _ in snapshot.end_offsets or {}})
