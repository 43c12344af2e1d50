"""``clearance connect slims``: publish a SLiMS 9 library's circulation as the service's events."""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import click
from pydantic import TypeAdapter, ValidationError
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from connectors.runtime import CommonOptions, common_options, launch
from connectors.slims.connector import SlimsConnector
from connectors.slims.source import SlimsSource, SourceError, engine_for
from schemas.registry import Topic
from schemas.types import Currency


@click.command("slims")
@click.option("--dsn", required=True, help="mysql+pymysql://USER:PASS@HOST:PORT/DB of the SLiMS database (read-only).")
@click.option("--library-id", required=True, help="The library's id in the events (source urn:library:<id>).")
@click.option("--student-id-column", default=None, help="A column of `member` that holds the student id.")
@click.option(
    "--student-id-pattern",
    default=None,
    help="A regular expression on member_id; its first group (or the whole match) is the student id.",
)
@click.option("--currency", default="IDR", show_default=True, help="ISO 4217 currency of fines.debet/credit.")
@click.option("--timezone", "timezone", default="Asia/Jakarta", show_default=True, help="Zone of SLiMS's times.")
@common_options
def command(
    dsn: str,
    library_id: str,
    student_id_column: str | None,
    student_id_pattern: str | None,
    currency: str,
    timezone: str,
    common: CommonOptions,
) -> None:
    """Read a SLiMS 9 database (member, loan, item, biblio, fines) and publish its patrons, loans and fines."""
    if student_id_column and student_id_pattern:
        raise click.UsageError("give --student-id-column or --student-id-pattern, not both")
    try:
        TypeAdapter(Currency).validate_python(currency)
    except ValidationError:
        raise click.BadParameter(f"{currency!r} is not an ISO 4217 code", param_hint="--currency") from None
    try:
        zone = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise click.BadParameter(f"unknown time zone {timezone!r}", param_hint="--timezone") from None
    try:
        source = SlimsSource(engine_for(dsn), student_id_column, student_id_pattern)
        source.check()
    except SourceError as exc:
        raise click.ClickException(str(exc)) from None
    except SQLAlchemyError as exc:
        raise click.ClickException(f"cannot read the SLiMS database: {getattr(exc, 'orig', exc)}") from None
    password = make_url(dsn).password
    launch(
        common,
        name="slims",
        family=Topic.CIRCULATION,
        make=lambda: SlimsConnector(source, library_id=library_id, currency=currency, zone=zone),
        secrets=[str(password)] if password else [],
    )
