"""Throughput of the SLiMS connector's backfill: ``python -m bench.slims_backfill --loans 100000``.

Fills a fresh SLiMS database on MariaDB (127.0.0.1:3306, root) with members and open
loans as the circulation desk writes them, then times the connector's first pass
(read, compare, publish to a real broker, checkpoint) and a second pass over the
unchanged tables (the cost of the full compare every pass makes). The broker is
KAFKA_BOOTSTRAP_SERVERS, else the embedded one.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
import uuid
from pathlib import Path
from zoneinfo import ZoneInfo

import click

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # the SLiMS tables and desk of the tests

from slims_desk import Desk, fresh_slims_database

from clearance.broker import EmbeddedBroker
from clearance.logging import configure_logging
from clearance.settings import Settings
from connectors.runtime import Publisher, StateStore
from connectors.slims.connector import SlimsConnector
from connectors.slims.source import SlimsSource, engine_for


def _pass(url: str, settings: Settings, state_url: str) -> tuple[float, int]:
    connector = SlimsConnector(SlimsSource(engine_for(url), None, None), library_id="central",
                               zone=ZoneInfo("Asia/Jakarta"))  # fmt: skip
    publisher = Publisher(settings, f"{settings.topic_prefix}library.circulation")
    state = StateStore(state_url, "slims")
    started = time.perf_counter()
    result = connector.run_pass(publisher, state)
    elapsed = time.perf_counter() - started
    connector.close()
    publisher.close()
    state.close()
    return elapsed, result.published


@click.command()
@click.option("--loans", default=100_000, show_default=True, help="Open loans in the SLiMS database.")
@click.option("--members", default=25_000, show_default=True, help="Members the loans are spread over.")
def main(loans: int, members: int) -> None:
    """Print the backfill's and a steady pass's time and rates."""
    configure_logging("console", "warning")
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    broker = None
    if not bootstrap:
        broker = EmbeddedBroker().start()
        bootstrap = broker.bootstrap_servers
    try:
        with fresh_slims_database() as url, tempfile.TemporaryDirectory() as workdir:
            desk = Desk(url)
            started = time.perf_counter()
            desk.many_checkouts(members, loans)
            desk.close()
            click.echo(f"filled SLiMS: {members} members, {loans} open loans in {time.perf_counter() - started:.1f} s")
            settings = Settings(kafka_bootstrap_servers=bootstrap, topic_prefix=f"bench{uuid.uuid4().hex[:8]}.")
            state_url = f"sqlite:///{Path(workdir) / 'connector-slims.db'}"
            elapsed, published = _pass(url, settings, state_url)
            click.echo(f"backfill: {published} events in {elapsed:.1f} s = {published / elapsed:,.0f} events/s, "
                       f"{loans / elapsed:,.0f} loans/s")  # fmt: skip
            elapsed, published = _pass(url, settings, state_url)
            click.echo(f"steady pass over unchanged tables: {published} events in {elapsed:.1f} s")
    finally:
        if broker is not None:
            broker.stop()


if __name__ == "__main__":
    main()
