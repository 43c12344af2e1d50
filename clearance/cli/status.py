"""``clearance status``: is anything stuck, and how do the applications stand."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TypeVar
from zoneinfo import ZoneInfo

import click
from rich.console import Console
from rich.table import Table

from clearance.bootstrap import open_store
from clearance.cli.context import current_settings
from clearance.settings import Settings
from clearance.store import views
from clearance.store.unit_of_work import SqlUnitOfWork
from schemas.registry import INBOUND_TOPICS, Topic

T = TypeVar("T")

# Exit code of ``clearance status`` when the broker could not be asked: the store's part was printed,
# the lag is unknown.
LAG_UNKNOWN = 3


def console() -> Console:
    """A console as wide as the terminal, or wide enough not to wrap when output is piped."""
    out = Console()
    return out if out.is_terminal else Console(width=200)


def read_store(settings: Settings, reader: Callable[[SqlUnitOfWork], T]) -> T:
    """Run ``reader`` in one transaction (a database that cannot be read is the CLI boundary's one-line error)."""
    with open_store(settings) as database, database.unit_of_work() as uow:
        return reader(uow)


def local_time(moment: datetime | str | None, zone: str, timespec: str = "minutes") -> str:
    """A time as operators read it: in the configured zone, with its offset (``2026-11-24T10:00+07:00``)."""
    if moment is None:
        return "-"
    if isinstance(moment, str):
        try:
            moment = datetime.fromisoformat(moment)
        except ValueError:
            return moment
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)  # the store keeps UTC; SQLite hands it back without its offset
    return moment.astimezone(ZoneInfo(zone)).isoformat(timespec=timespec)


def _ago(moment: datetime | None, now: datetime) -> str:
    if moment is None:
        return "-"
    seconds = max(0, int((now - moment).total_seconds()))
    hours, rest = divmod(seconds, 3600)
    return f"{hours}h{rest // 60:02d}m ago" if hours else f"{rest // 60}m{rest % 60:02d}s ago"


@click.command()
@click.option("--broker/--no-broker", default=True, show_default=True, help="Ask the broker for lag.")
@click.option("--timeout", default=2.0, show_default=True, help="Seconds to wait for the broker.")
def status(broker: bool, timeout: float) -> None:
    """Outbox backlog, consumer lag per partition, applications by status and dead letters.

    Exit code 0, or 3 when the broker could not be asked (the lag is then unknown; the rest is printed).
    """

    settings = current_settings()
    state = read_store(settings, views.service_status)
    now = datetime.now(UTC)
    out = console()
    out.print(f"Status at {local_time(now, settings.timezone, 'seconds')} ({settings.timezone})")
    if settings.trust_file is None:
        out.print("[yellow]Producer trust: OPEN[/yellow] — no CLEARANCE_TRUST_FILE, every writer of an inbound topic "
                  "is believed (G11)")  # fmt: skip
    else:
        out.print(f"Producer trust: {settings.trust_file}")

    oldest = f", the oldest written {_ago(state.outbox.oldest_created_at, now)}" if state.outbox.count else ""
    out.print(f"[bold]Outbox: {state.outbox.count} waiting to be published[/bold]{oldest}")
    outbox = Table()
    outbox.add_column("topic")
    outbox.add_column("waiting", justify="right")
    for topic in Topic:
        if topic not in INBOUND_TOPICS:
            outbox.add_row(settings.topic(topic), str(state.outbox.by_topic.get(topic.value, 0)))
    out.print(outbox)
    if state.set_aside:
        out.print(f"[red]{state.set_aside} set aside: the broker refused them for good[/red] "
                  "(`clearance dlq list` shows them, `clearance dlq release` publishes them again)")  # fmt: skip

    out.print("\n[bold]Consumer lag[/bold]: the broker's next offset minus the position stored with the data")
    lag_table = Table()
    for column in ("topic", "partition", "applied up to", "broker next offset", "lag"):
        lag_table.add_column(column, justify="right" if column != "topic" else "left")
    problem = None
    watermarks: dict[tuple[str, int], tuple[int, int]] = {}
    if broker:
        from consumers.watermarks import BrokerUnavailable, TopicWatermarks

        reader = TopicWatermarks(settings, timeout_ms=int(timeout * 1000))
        try:
            watermarks = dict(reader.read())
        except BrokerUnavailable as exc:
            detail = re.sub(r"^(\w+: )\1", r"\1", str(exc))  # kafka-python repeats the error's name
            problem = (
                f"broker {settings.kafka_bootstrap_servers} did not answer within {timeout:g} s ({detail}); "
                "start it, set CLEARANCE_KAFKA_BOOTSTRAP_SERVERS, or use --no-broker"
            )
        finally:
            reader.close()
    lag = views.consumer_lag(watermarks, state.positions)
    for key in sorted(set(watermarks) | set(state.positions)):
        topic, partition = key
        applied = state.positions.get(key)
        next_offset = watermarks[key][1] if key in watermarks else None
        lag_table.add_row(
            settings.topic(Topic(topic)),
            str(partition),
            "-" if applied is None else str(applied),
            "?" if next_offset is None else str(next_offset),
            "?" if key not in lag else str(lag[key]),
        )
    if watermarks:
        lag_table.add_row("all", "", "", "", str(sum(lag.values())), style="bold")
    if watermarks or state.positions:
        out.print(lag_table)
    if problem is not None:
        out.print(f"[yellow]lag unknown: {problem}[/yellow]", soft_wrap=True)
    elif not broker:
        out.print("lag not asked (--no-broker)")

    out.print(f"\n[bold]Applications: {sum(state.applications.values())}[/bold]")
    applications = Table()
    applications.add_column("status")
    applications.add_column("count", justify="right")
    for name, count in state.applications.items():
        applications.add_row(name, str(count))
    out.print(applications)
    if state.pending_since is not None:
        out.print(f"oldest pending application received {_ago(state.pending_since, now)} (freshness gate)")

    total = sum(state.dead_letters.values())
    out.print(f"\n[bold]Dead letters: {total}[/bold] ({state.dead_letters_unreplayed} never replayed)")
    if total:
        letters = Table()
        letters.add_column("error kind")
        letters.add_column("count", justify="right")
        for kind, count in sorted(state.dead_letters.items()):
            letters.add_row(kind, str(count))
        out.print(letters)
    if problem is not None:
        click.get_current_context().exit(LAG_UNKNOWN)


COMMANDS = [status]
