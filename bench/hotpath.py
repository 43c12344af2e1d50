"""Profile the handler alone, without Kafka: ``python -m bench.hotpath [--database-url URL] [--profile]``.

Pre-loads a store, parses circulation events and applications as the
consumer does, and times :func:`clearance.services.batch.handle_batch` batch by
batch, optionally under pyinstrument. It isolates the store and the
domain from the broker when looking for where the service's time goes.
"""

from __future__ import annotations

import tempfile
import time
from datetime import timedelta
from pathlib import Path

import click

from bench.preload import preload
from bench.stores import fresh_store
from bench.workload import CirculationMix, applications
from clearance.config.policy_file import load_policy
from clearance.services.batch import handle_batch
from clearance.services.results import Context
from clearance.settings import Settings
from clearance.signing.keys import KeyRing
from clearance.store.engine import make_engine, make_session_factory
from clearance.store.migrate import upgrade
from clearance.store.unit_of_work import SqlUnitOfWork
from schemas.registry import Topic, parse_event


def _batches(values: list[bytes], topic: Topic, size: int) -> list[list]:
    events = [parse_event(v, topic) for v in values]
    return [events[i : i + size] for i in range(0, len(events), size)]


@click.command()
@click.option("--database-url", default=None, envvar="CLEARANCE_DATABASE_URL")
@click.option("--students", default=10_000, show_default=True)
@click.option("--events", default=10_000, show_default=True)
@click.option("--apps", default=2_000, show_default=True)
@click.option("--batch", default=500, show_default=True)
@click.option("--profile", "profile_to", type=click.Path(path_type=Path), default=None, help="Write pyinstrument text.")
def main(database_url: str | None, students: int, events: int, apps: int, batch: int, profile_to: Path | None) -> None:
    """Time handle_batch over circulation events and applications."""
    work = Path(tempfile.mkdtemp(prefix="bench-hotpath-"))
    with fresh_store(database_url, work, "hotpath") as url:
        upgrade(url)
        engine = make_engine(url)
        preload(engine, students)
        factory = make_session_factory(engine)
        settings = Settings(database_url=url, key_dir=work / "keys")
        ring = KeyRing(settings.key_dir)
        key = ring.signing_key(create=True)
        policy = load_policy(None)
        ctx = Context(policy=lambda: policy, signing_key=lambda: key, clock=settings.now, issuer=settings.issuer,
                      freshness_max_wait=timedelta(seconds=60))  # fmt: skip
        circulation = _batches([r.value for r in CirculationMix(students).records(events)], Topic.CIRCULATION, batch)
        applying = _batches([a.record.value for a in applications(students, 0, apps, "hot")], Topic.APPLICATIONS, batch)
        profiler = None
        if profile_to is not None:
            from pyinstrument import Profiler

            profiler = Profiler(interval=0.0005)
            profiler.start()
        for name, batches in (("circulation", circulation), ("applications", applying)):
            started = time.perf_counter()
            decisions = 0
            for events_batch in batches:
                with SqlUnitOfWork(factory) as uow:
                    decisions += handle_batch(uow, events_batch, [], ctx).decisions
                    uow.commit()
            seconds = time.perf_counter() - started
            count = sum(len(b) for b in batches)
            if not count:
                continue
            click.echo(f"{name}: {count} events in {seconds:.2f}s = {count / seconds:,.0f}/s "
                       f"({1e6 * seconds / count:,.0f} µs/event), {decisions} decisions")  # fmt: skip
        if profiler is not None:
            profiler.stop()
            profile_to.write_text(
                profiler.output_text(
                    unicode=True, color=False, show_all=bool(__import__("os").environ.get("BENCH_SHOW_ALL"))
                )
            )
            click.echo(f"profile: {profile_to}")
        engine.dispose()


if __name__ == "__main__":
    main()
