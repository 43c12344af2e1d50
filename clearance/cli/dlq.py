"""``clearance dlq``: list and replay dead-lettered messages."""

from __future__ import annotations

from datetime import datetime

import click
from kafka import KafkaProducer
from rich.console import Console
from rich.table import Table

from clearance.bootstrap import open_store
from clearance.cli.context import current_settings
from clearance.cli.status import local_time
from clearance.store.deadletters import list_dead_letters, replay
from schemas.registry import Topic


class Moment(click.ParamType):
    """An RFC 3339 time with its offset; anything else is a usage error (exit 2), not a traceback."""

    name = "TIME"

    def convert(self, value: object, param: click.Parameter | None, ctx: click.Context | None) -> datetime:
        if isinstance(value, datetime):
            return value
        try:
            moment = datetime.fromisoformat(str(value))
        except ValueError:
            moment = None
        if moment is None or moment.tzinfo is None:
            self.fail(f"{value!r} is not a time with its offset; give e.g. 2026-11-24T08:00:00+07:00", param, ctx)
        return moment


SINCE = Moment()
# How long `dlq replay` waits for the broker to answer at all (kafka-python's default is 30 s).
_BROKER_WAIT_MS = 5000


@click.group()
def dlq() -> None:
    """Dead-lettered messages (clearance.dead-letter)."""


@dlq.command("list")
@click.option("--type", "event_type", help="Only dead letters of this CloudEvent type.")
@click.option("--since", type=SINCE, help="Only those dead-lettered at or after this RFC 3339 time.")
@click.option("--kind", help="Only this error kind (invalid-json, schema, unauthorized, too-large, ...).")
def dlq_list(event_type: str | None, since: datetime | None, kind: str | None) -> None:
    """Show dead letters, and whether each one's event was processed since."""

    settings = current_settings()
    with open_store(settings) as database, database.unit_of_work() as uow:
        views = list_dead_letters(uow.session, event_type=event_type, since=since, kind=kind)
        aside = [(r.id, r.topic, r.type, r.student_id, r.set_aside_at, r.set_aside_reason)
                 for r in uow.outbox.set_aside_rows()]  # fmt: skip
    table = Table(title=f"{len(views)} dead letters (times in {settings.timezone})")
    for column in ("id", "origin", "kind", "type", "message", "at", "processed", "replays"):
        table.add_column(column)
    for v in views:
        table.add_row(
            str(v.id), f"{v.origin_topic}[{v.origin_partition}]@{v.origin_offset}", v.error_kind, v.event_type or "",
            v.error_message[:80], local_time(v.created_at, settings.timezone, "seconds"),
            "yes" if v.processed else "no", str(v.replay_count),
        )  # fmt: skip
    Console(width=200).print(table)
    if aside:
        held = Table(title=f"{len(aside)} outbox rows set aside (the broker refused them; `clearance dlq release`)")
        for column in ("outbox id", "topic", "type", "student", "at", "reason"):
            held.add_column(column)
        for row_id, topic, row_type, student, at, reason in aside:
            held.add_row(str(row_id), settings.topic(Topic(topic)), row_type, student or "",
                         local_time(at, settings.timezone, "seconds") if at else "", (reason or "")[:80])  # fmt: skip
        Console(width=200).print(held)


@dlq.command("replay")
@click.option("--type", "event_type", help="Only dead letters of this CloudEvent type.")
@click.option("--since", type=SINCE, help="Only those dead-lettered at or after this RFC 3339 time.")
@click.option("--id", "ids", type=int, multiple=True, help="Only these dead letters (repeatable).")
@click.option("--dry-run", is_flag=True, help="Say what would be replayed, publish nothing.")
def dlq_replay(event_type: str | None, since: datetime | None, ids: tuple[int, ...], dry_run: bool) -> None:
    """Re-publish dead letters to their origin topics, skipping events processed since."""

    settings = current_settings()
    producers: list[KafkaProducer] = []

    def publish(topic: str, key: bytes | None, value: bytes | None) -> None:
        # Made on the first letter to send: a replay with nothing to send needs no broker.
        if not producers:
            options = settings.kafka_client_options()
            producers.append(KafkaProducer(**options, acks="all", bootstrap_timeout_ms=_BROKER_WAIT_MS))
        producers[0].send(topic, key=key, value=value).get(timeout=30)

    with open_store(settings) as database:
        try:
            with database.unit_of_work() as uow:
                report = replay(uow.session, publish, event_type=event_type, since=since, ids=ids, dry_run=dry_run)
                uow.commit()
        finally:
            for producer in producers:
                producer.close()
    verb = "would replay" if dry_run else "replayed"
    click.echo(f"{verb} {len(report.replayed)}: {report.replayed}")
    click.echo(f"skipped as already processed {len(report.already_processed)}: {report.already_processed}")


@dlq.command("release")
@click.option("--id", "ids", type=int, multiple=True, help="Only these outbox rows (repeatable); default: all.")
def dlq_release(ids: tuple[int, ...]) -> None:
    """Let the relay publish set-aside outbox rows again (after the broker's limit was raised, say)."""
    settings = current_settings()
    with open_store(settings) as database, database.unit_of_work() as uow:
        released = uow.outbox.release(ids)
        uow.commit()
    click.echo(f"released {released} outbox rows to the relay")


COMMANDS = [dlq]
