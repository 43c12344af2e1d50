"""Reading back what a connector published, from every partition of one topic of a real broker."""

from __future__ import annotations

import time
from dataclasses import dataclass

from kafka import KafkaConsumer, TopicPartition


@dataclass(frozen=True)
class Record:
    key: bytes | None
    value: bytes
    headers: dict[str, bytes]
    partition: int
    offset: int


def read_topic(
    bootstrap: str, topic: str, *, at_least: int, timeout: float = 30.0, settle: float = 1.0
) -> list[Record]:
    """Every record of ``topic``: wait until ``at_least`` arrived, then keep reading ``settle`` seconds more."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False)
    try:
        seen: dict[tuple[int, int], Record] = {}
        assigned: set[TopicPartition] = set()
        deadline = time.monotonic() + timeout
        quiet_until: float | None = None
        while True:
            partitions = {TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()}
            if partitions - assigned:
                new = sorted(partitions - assigned)
                assigned |= partitions
                consumer.assign(sorted(assigned))
                consumer.seek_to_beginning(*new)
            for batch in consumer.poll(timeout_ms=200).values():
                for r in batch:
                    seen[(r.partition, r.offset)] = Record(r.key, r.value, dict(r.headers), r.partition, r.offset)
            now = time.monotonic()
            if len(seen) >= at_least:
                quiet_until = quiet_until or now + settle
                if now >= quiet_until:
                    return [seen[k] for k in sorted(seen)]
            elif now > deadline:
                raise AssertionError(f"{topic}: {len(seen)} records within {timeout}s, expected at least {at_least}")
    finally:
        consumer.close()
