"""The raw ceiling: a bare kafka-python consumer reading and ``json.loads``-ing the records, nothing else.

Run as a child process (``python -m bench.ceiling BOOTSTRAP TOPIC N MAX_POLL_RECORDS``), like the
service, so that neither shares an interpreter with the benchmark. It uses the service's own fetch
settings, joins a group of its own, and times from the first records ``poll`` returns to the last
record decoded; it prints one JSON line.
"""

from __future__ import annotations

import json
import sys
import time
import uuid

from kafka import KafkaConsumer


def reader(bootstrap: str, topic: str, max_poll_records: int, group: str, **options: object) -> KafkaConsumer:
    """A consumer of ``topic`` from its beginning, in a group of its own, with the benchmark's fetch sizes."""
    return KafkaConsumer(
        topic,
        bootstrap_servers=bootstrap.split(","),
        group_id=f"{group}-{uuid.uuid4().hex[:8]}",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_poll_records=max_poll_records,
        session_timeout_ms=6000,
        heartbeat_interval_ms=1000,
        fetch_max_bytes=64 * 1024 * 1024,
        max_partition_fetch_bytes=16 * 1024 * 1024,
        **options,
    )


def read(bootstrap: str, topic: str, count: int, max_poll_records: int, timeout: float = 300.0) -> dict[str, float]:
    """Read ``count`` records of ``topic`` from the beginning; return the timing."""
    consumer = reader(bootstrap, topic, max_poll_records, "bench-ceiling")
    seen = 0
    first: float | None = None
    deadline = time.monotonic() + timeout
    try:
        while seen < count:
            batch = consumer.poll(timeout_ms=500)
            if not batch:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"read {seen}/{count} records of {topic} in {timeout}s")
                continue
            if first is None:
                first = time.time()
            for records in batch.values():
                for record in records:
                    json.loads(record.value)
                    seen += 1
        last = time.time()
    finally:
        consumer.close(autocommit=False)
    assert first is not None
    seconds = max(last - first, 1e-9)
    return {"records": seen, "seconds": seconds, "per_second": seen / seconds, "first": first, "last": last}


if __name__ == "__main__":
    bootstrap, topic, count, max_poll = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    sys.stdout.write(json.dumps(read(bootstrap, topic, count, max_poll)) + "\n")
