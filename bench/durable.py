"""The bare durable consumer: the throughput reference the service's projection and end to end are divided by.

Run as a child process, like the service (``python -m bench.durable BOOTSTRAP TOPIC N MAX_POLL DATABASE_URL``).
It is what the simplest durable consumer of the same records does, and nothing more: kafka-python with the
service's fetch settings and a group of its own, ``json.loads`` of each record, and per poll (up to
MAX_POLL records) one statement writing (source, id, type, subject, data) into a table of its own —
``INSERT ... SELECT FROM unnest(...) ON CONFLICT DO NOTHING`` on PostgreSQL, ``executemany`` of
``INSERT OR IGNORE`` on SQLite (with the service's pragmas) — then the transaction's commit, then the
offset commit. ``data`` is kept as its JSON text: the reference should be the fastest reasonable
durable consumer, not one that flatters the service. Timed from the first records ``poll`` returns to
the last offset commit; it prints one JSON line.
"""

from __future__ import annotations

import json
import sqlite3
import sys
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy.engine import make_url

from bench.ceiling import reader

TABLE = "bench_bare_events"
_CREATE = (
    f"CREATE TABLE IF NOT EXISTS {TABLE} (source text NOT NULL, id text NOT NULL, type text NOT NULL, "
    "subject text, data text, PRIMARY KEY (source, id))"
)
_PG_INSERT = (
    f"INSERT INTO {TABLE} (source, id, type, subject, data) "
    "SELECT * FROM unnest(%s::text[], %s::text[], %s::text[], %s::text[], %s::text[]) ON CONFLICT DO NOTHING"
)
_SQLITE_INSERT = f"INSERT OR IGNORE INTO {TABLE} (source, id, type, subject, data) VALUES (?, ?, ?, ?, ?)"

Row = tuple[str, str, str, str | None, str]
Writer = Callable[[list[Row]], None]


def _postgres(url: str) -> tuple[Writer, Callable[[], None]]:
    import psycopg

    conninfo = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    conn = psycopg.connect(conninfo)
    conn.execute(_CREATE)
    conn.commit()

    def write(rows: list[Row]) -> None:
        columns = [list(c) for c in zip(*rows, strict=True)]
        conn.execute(_PG_INSERT, columns)
        conn.commit()

    return write, conn.close


def _sqlite(url: str) -> tuple[Writer, Callable[[], None]]:
    conn = sqlite3.connect(make_url(url).database or ":memory:", isolation_level=None)
    # The service's own pragmas (clearance.store.engine), so both write with the same durability.
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA busy_timeout=30000")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute(_CREATE)

    def write(rows: list[Row]) -> None:
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(_SQLITE_INSERT, rows)
        conn.execute("COMMIT")

    return write, conn.close


def open_table(url: str) -> tuple[Writer, Callable[[], None]]:
    """A writer of rows into the reference's own table in the database ``url`` names, and its closer."""
    if make_url(url).get_backend_name() == "sqlite":
        return _sqlite(url)
    return _postgres(url)


def _row(value: bytes) -> Row:
    event: dict[str, Any] = json.loads(value)
    return (event["source"], event["id"], event["type"], event.get("subject"), json.dumps(event.get("data")))


def consume(
    bootstrap: str, topic: str, count: int, max_poll_records: int, url: str, timeout: float = 600.0
) -> dict[str, float]:
    """Consume ``count`` records of ``topic`` from the beginning into the reference table; return the timing."""
    write, close = open_table(url)
    consumer = reader(bootstrap, topic, max_poll_records, "bench-durable", fetch_max_wait_ms=50)
    seen = polls = 0
    first: float | None = None
    deadline = time.monotonic() + timeout
    try:
        while seen < count:
            batch = consumer.poll(timeout_ms=500)
            if not batch:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"stored {seen}/{count} records of {topic} in {timeout}s")
                continue
            if first is None:
                first = time.time()
            rows = [_row(record.value) for records in batch.values() for record in records]
            write(rows)
            consumer.commit()
            seen += len(rows)
            polls += 1
        last = time.time()
    finally:
        consumer.close(autocommit=False)
        close()
    assert first is not None
    seconds = max(last - first, 1e-9)
    return {"records": seen, "polls": polls, "seconds": seconds, "per_second": seen / seconds}


if __name__ == "__main__":
    bootstrap, topic, count, max_poll, url = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
    sys.stdout.write(json.dumps(consume(bootstrap, topic, count, max_poll, url)) + "\n")
