"""``clearance dlq``: list and replay dead-lettered messages."""

from __future__ import annotations

from datetime import datetime

import click
from kafka import KafkaProducer
from rich.console import Console
from rich.table import Table

from clearance.deadletters import list_dead_letters, replay
from clearance.store.database import make_engine, make_session_factory
from clearance.store.unit_of_work import UnitOfWork


def _since(value: str | None) -> datetime | None:
    if value is None:
        return None
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None:
        raise click.BadParameter("give a time with its offset, e.g. 2026-11-24T08:00:00+07:00")
    return moment


@click.group()
def dlq() -> None:
    """Dead-lettered messages (clearance.dead-letter)."""


@dlq.command("list")
@click.option("--type", "event_type", help="Only dead letters of this CloudEvent type.")
@click.option("--since", help="Only those dead-lettered at or after this RFC 3339 time.")
@click.option("--kind", help="Only this error kind (invalid-json, schema-violation, ...).")
def dlq_list(event_type: str | None, since: str | None, kind: str | None) -> None:
    """Show dead letters, and whether each one's event was processed since."""
    from clearance.cli import load_settings

    settings = load_settings()
    engine = make_engine(settings.database_url)
    with UnitOfWork(make_session_factory(engine)) as uow:
        assert uow.session is not None
        views = list_dead_letters(uow.session, event_type=event_type, since=_since(since), kind=kind)
    engine.dispose()
    table = Table(title=f"{len(views)} dead letters")
    for column in ("id", "origin", "kind", "type", "message", "at", "processed", "replays"):
        table.add_column(column)
    for v in views:
        table.add_row(
            str(v.id), f"{v.origin_topic}[{v.origin_partition}]@{v.origin_offset}", v.error_kind, v.event_type or "",
            v.error_message[:80], v.created_at.isoformat(timespec="seconds"), "yes" if v.processed else "no",
            str(v.replay_count),
        )  # fmt: skip
    Console(width=200).print(table)


@dlq.command("replay")
@click.option("--type", "event_type", help="Only dead letters of this CloudEvent type.")
@click.option("--since", help="Only those dead-lettered at or after this RFC 3339 time.")
@click.option("--id", "ids", type=int, multiple=True, help="Only these dead letters (repeatable).")
@click.option("--dry-run", is_flag=True, help="Say what would be replayed, publish nothing.")
def dlq_replay(event_type: str | None, since: str | None, ids: tuple[int, ...], dry_run: bool) -> None:
    """Re-publish dead letters to their origin topics, skipping events processed since."""
    from clearance.cli import load_settings

    settings = load_settings()
    engine = make_engine(settings.database_url)
    producer = None if dry_run else KafkaProducer(**settings.kafka_client_options(), acks="all")

    def publish(topic: str, key: bytes | None, value: bytes | None) -> None:
        assert producer is not None
        producer.send(topic, key=key, value=value).get(timeout=30)

    with UnitOfWork(make_session_factory(engine)) as uow:
        assert uow.session is not None
        report = replay(uow.session, publish, event_type=event_type, since=_since(since), ids=ids, dry_run=dry_run)
        uow.commit()
    if producer is not None:
        producer.close()
    engine.dispose()
    verb = "would replay" if dry_run else "replayed"
    click.echo(f"{verb} {len(report.replayed)}: {report.replayed}")
    click.echo(f"skipped as already processed {len(report.already_processed)}: {report.already_processed}")


COMMANDS = [dlq]
