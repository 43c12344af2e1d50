"""``python -m bench.folio_bridge``: the FOLIO bridge's throughput on N FOLIO loan events.

Puts N loan domain events (checkouts, renewals, check-ins; shaped as
mod-circulation-storage publishes them) on a FOLIO topic of a real broker
(``--bootstrap``, else the embedded Tansu), then measures

- the pure mapping alone (no I/O), records per second;
- one bridge pass end to end (poll FOLIO, map, publish with acks=all, write the
  state to SQLite, commit FOLIO's offsets), records and events per second, with
  the time to the first batch (the consumer group join) shown apart.

It prints the figures; nothing is asserted.
"""

from __future__ import annotations

import json
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import click
from kafka import KafkaProducer

from clearance.demo.broker import EmbeddedBroker
from clearance.observability.logging import configure_logging
from clearance.settings import Settings
from connectors.folio.bridge import FolioBridge
from connectors.folio.contract import BridgeConfig
from connectors.folio.mapping import map_loan_event
from connectors.folio.source import FolioKafka, FolioSource, FolioTopics
from connectors.runtime import Publisher, StateStore

START = datetime(2026, 8, 1, tzinfo=UTC)


def _date(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _loan(loan_id: str, user: str, at: datetime, due: datetime, **fields: Any) -> dict[str, Any]:
    loan = {
        "id": loan_id, "userId": user, "itemId": str(uuid.uuid4()), "status": {"name": "Open"},
        "loanDate": _date(at), "dueDate": _date(due), "action": "checkedout", "itemStatus": "Checked out",
        "renewalCount": 0, "metadata": {"createdDate": _date(at), "updatedDate": _date(at)},
    }  # fmt: skip
    loan.update(fields)
    return loan


def loan_events(n: int) -> list[tuple[bytes, bytes]]:
    """``n`` loan domain events (key, value): per loan a checkout, a renewal for some, a check-in for some."""
    records: list[tuple[bytes, bytes]] = []
    users = [str(uuid.uuid4()) for _ in range(max(1, n // 10))]
    i = 0
    while len(records) < n:
        at = START + timedelta(seconds=i)
        loan_id, user = str(uuid.uuid4()), users[i % len(users)]
        opened = _loan(loan_id, user, at, at + timedelta(days=14))
        steps = [(None, opened)]
        renewed = {**opened, "action": "renewed", "renewalCount": 1, "dueDate": _date(at + timedelta(days=28)),
                   "metadata": {"createdDate": _date(at), "updatedDate": _date(at + timedelta(days=10))}}  # fmt: skip
        closed = {**renewed, "action": "checkedin", "status": {"name": "Closed"}, "itemStatus": "Available",
                  "returnDate": _date(at + timedelta(days=20)),
                  "metadata": {"createdDate": _date(at), "updatedDate": _date(at + timedelta(days=20))}}  # fmt: skip
        if i % 3 != 2:
            steps.append((opened, renewed))
        if i % 3 == 0:
            steps.append((steps[-1][1], closed))
        for old, new in steps:
            data = {"new": new} if old is None else {"old": old, "new": new}
            event = {"id": str(uuid.uuid4()), "type": "CREATED" if old is None else "UPDATED", "tenant": "diku",
                     "timestamp": int(at.timestamp() * 1000), "data": data}  # fmt: skip
            records.append((loan_id.encode(), json.dumps(event).encode()))
        i += 1
    return records[:n]


def _produce(bootstrap: str, topic: str, records: list[tuple[bytes, bytes]]) -> float:
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=20, batch_size=512 * 1024)
    started = time.perf_counter()
    for key, value in records:
        producer.send(topic, key=key, value=value)
    producer.flush()
    producer.close()
    return time.perf_counter() - started


def _pure(records: list[tuple[bytes, bytes]], config: BridgeConfig) -> float:
    state: dict[str, Any] = {}
    now = datetime.now(UTC)
    started = time.perf_counter()
    for _, value in records:
        mapped = map_loan_event(value, state.get, config, now)
        for key, change in mapped.changes.items():
            if change is None:
                state.pop(key, None)
            else:
                state[key] = change
    return time.perf_counter() - started


class _TimedSource(FolioSource):
    first_records_at: float | None = None

    def poll(self, max_records: int, timeout_ms: int) -> list:
        records = super().poll(max_records, timeout_ms)
        if records and self.first_records_at is None:
            self.first_records_at = time.perf_counter()
        return records


@click.command()
@click.option("--events", "-n", default=100_000, show_default=True, help="FOLIO loan events to bridge.")
@click.option("--batch-size", default=2000, show_default=True, help="Records per bridge batch.")
@click.option("--bootstrap", default=None, help="A running broker (default: start the embedded Tansu).")
@click.option("--state-dir", type=click.Path(file_okay=False, path_type=Path), default=None)
def main(events: int, batch_size: int, bootstrap: str | None, state_dir: Path | None) -> None:
    """Measure the FOLIO bridge's throughput and print the figures."""
    configure_logging("console", "warning", [])
    broker = None if bootstrap else EmbeddedBroker().start()
    servers = bootstrap or broker.bootstrap_servers  # type: ignore[union-attr]
    workdir = state_dir or Path(tempfile.mkdtemp(prefix="folio-bench-"))
    env = f"bench{uuid.uuid4().hex[:8]}"
    topics = FolioTopics(env, "diku")
    config = BridgeConfig(library_id="central", tenant="diku")
    try:
        records = loan_events(events)
        produced = _produce(servers, topics.loans, records)
        click.echo(f"FOLIO loan events: {len(records)} (produced in {produced:.1f} s)")
        pure = _pure(records, config)
        click.echo(f"pure mapping:      {len(records) / pure:,.0f} records/s ({pure:.1f} s)")
        settings = Settings(kafka_bootstrap_servers=servers, topic_prefix=f"{env}.")
        publisher = Publisher(settings, f"{env}.library.circulation")
        state = StateStore(f"sqlite:///{workdir / 'folio-state.db'}", "folio")
        source = _TimedSource(FolioKafka(servers, f"{env}-bridge", session_timeout_ms=6000, heartbeat_interval_ms=1000),
                              topics)  # fmt: skip
        bridge = FolioBridge(config, source, batch_size=batch_size)
        started = time.perf_counter()
        result = bridge.run_pass(publisher, state)
        ended = time.perf_counter()
        bridge.close()
        publisher.close()
        state.close()
        joined = (source.first_records_at or ended) - started
        steady = ended - (source.first_records_at or started)
        click.echo(f"bridge pass:       {ended - started:.1f} s in all, {joined:.1f} s of it before the first batch")
        click.echo(f"  after the join:  {len(records) / steady:,.0f} FOLIO records/s, "
                   f"{result.published / steady:,.0f} events published/s ({result.published} events, "
                   f"{result.unmappable} unmappable, batch {batch_size})")  # fmt: skip
    finally:
        if broker is not None:
            broker.stop()


if __name__ == "__main__":
    main()
