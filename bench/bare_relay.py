"""The bare relay: the latency reference the service's p99 is divided by.

Run as a child process (``python -m bench.bare_relay BOOTSTRAP IN_TOPIC OUT_TOPIC MAX_POLL``) until
SIGTERM. It is the two hops of publish -> certificate with nothing in between: a kafka-python consumer
(the service's fetch settings, a group of its own) reads applications, an idempotent producer
(``acks=all``, as the service's relay) produces one record to the output topic per input, and the
offsets are committed once every produce of the poll is acknowledged. It prints ``{"kind": "ready"}``
once it holds its partitions, so that nothing the benchmark times waits on a group join.
"""

from __future__ import annotations

import json
import signal
import sys
import threading
import time
import uuid

from kafka import KafkaConsumer, KafkaProducer


def _say(line: dict[str, object]) -> None:
    sys.stdout.write(json.dumps(line) + "\n")
    sys.stdout.flush()


def relay(bootstrap: str, source: str, target: str, max_poll_records: int, stop: threading.Event) -> int:
    """Relay ``source`` to ``target`` until ``stop``; return how many records it relayed."""
    servers = bootstrap.split(",")
    consumer = KafkaConsumer(
        source,
        bootstrap_servers=servers,
        group_id=f"bench-relay-{uuid.uuid4().hex[:8]}",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_poll_records=max_poll_records,
        session_timeout_ms=6000,
        heartbeat_interval_ms=1000,
        fetch_max_wait_ms=50,
    )
    producer = KafkaProducer(
        bootstrap_servers=servers, acks="all", enable_idempotence=True, max_in_flight_requests_per_connection=5,
        retries=2**31 - 1, delivery_timeout_ms=60_000, request_timeout_ms=30_000,
    )  # fmt: skip
    relayed = 0
    ready = False
    try:
        while not stop.is_set():
            batch = consumer.poll(timeout_ms=100)
            if not ready and consumer.assignment():
                ready = True
                _say({"kind": "ready", "t": time.time()})
            if not batch:
                continue
            sent = [producer.send(target, key=r.key, value=r.value) for records in batch.values() for r in records]
            producer.flush()
            for future in sent:
                future.get()  # raises if the broker did not take it: then nothing is committed
            consumer.commit()
            relayed += len(sent)
    finally:
        producer.close(timeout=5)
        consumer.close(autocommit=False)
    return relayed


def main() -> None:
    """Relay until SIGTERM, then report how many records went through."""
    bootstrap, source, target, max_poll = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    relayed = relay(bootstrap, source, target, max_poll, stop)
    _say({"kind": "stopped", "relayed": relayed})


if __name__ == "__main__":
    main()
