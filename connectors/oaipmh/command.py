"""``connect oai-pmh``: harvest accepted theses from an OAI-PMH repository into ``thesis.deposits`` (SPEC §8)."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import click

from connectors.oaipmh.connector import OaiPmhConnector
from connectors.oaipmh.mapping import DEFAULT_STUDENT_ID_PATTERN, MappingRules
from connectors.oaipmh.source import OaiSource
from connectors.runtime import CommonOptions, common_options, launch
from schemas.registry import Topic
from schemas.types import DegreeLevel


def _url(ctx: click.Context, param: click.Parameter, value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise click.BadParameter("must be the repository's http(s) OAI-PMH base URL, e.g. "
                                 "https://repository.example.ac.id/server/oai/request")  # fmt: skip
    return value


def _pattern(ctx: click.Context, param: click.Parameter, value: str) -> re.Pattern[str]:
    try:
        pattern = re.compile(value)
    except re.error as exc:
        raise click.BadParameter(f"not a regular expression: {exc}") from None
    if pattern.groups < 1:
        raise click.BadParameter("needs a group around the student id, e.g. 'NIM:\\s*(\\d+)'")
    return pattern


def default_source(url: str) -> str:
    """``urn:repository:<host of the URL>``."""
    return f"urn:repository:{urlsplit(url).hostname}"


@click.command("oai-pmh")
@click.option(
    "--url",
    required=True,
    callback=_url,
    help="OAI-PMH base URL (DSpace 7: https://HOST/server/oai/request; EPrints: https://HOST/cgi/oai2).",
)
@click.option(
    "--metadata-prefix",
    required=True,
    type=click.Choice(["oai_dc", "etdms"]),
    help="Metadata format to harvest; etdms also carries the degree level.",
)
@click.option(
    "--set",
    "set_spec",
    default=None,
    metavar="SPEC",
    help="Harvest only this set (DSpace: col_… or com_…; EPrints: e.g. 74797065733D746865736973).",
)
@click.option(
    "--student-id-field",
    required=True,
    metavar="FIELD",
    help="Dublin Core element that carries the student id, e.g. description or identifier.",
)
@click.option(
    "--student-id-pattern",
    default=DEFAULT_STUDENT_ID_PATTERN,
    show_default=True,
    callback=_pattern,
    metavar="REGEX",
    help="Its first group is the student id, e.g. 'NIM:\\s*(\\d+)'; the default takes a field value that is one word.",
)
@click.option(
    "--source",
    default=None,
    metavar="URN",
    help="CloudEvent source of what is published (default urn:repository:<host of --url>).",
)
@click.option(
    "--degree-level",
    type=click.Choice([d.value for d in DegreeLevel]),
    default="S1",
    show_default=True,
    help="Degree level of a thesis whose record states none (etdms degree/level, dc:type skripsi/tesis).",
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=1.0),
    default=60.0,
    show_default=True,
    help="Seconds to wait for one OAI-PMH response.",
)
@common_options
def command(url: str, metadata_prefix: str, set_spec: str | None, student_id_field: str,
            student_id_pattern: re.Pattern[str], source: str | None, degree_level: str, timeout: float,
            common: CommonOptions) -> None:  # fmt: skip
    """Harvest theses from an OAI-PMH repository into thesis.deposits events.

    A record the repository archives becomes thesis.deposit.submitted and
    thesis.deposit.accepted; a record it reports deleted becomes
    thesis.deposit.rejected ("withdrawn from the repository"). Each pass
    harvests incrementally from the last datestamp seen.
    """
    rules = MappingRules(
        source=source or default_source(url),
        student_id_field=student_id_field,
        student_id_pattern=student_id_pattern,
        default_degree_level=DegreeLevel(degree_level),
    )
    password = urlsplit(url).password
    launch(
        common,
        name="oai-pmh",
        family=Topic.DEPOSITS,
        make=lambda: OaiPmhConnector(OaiSource(url, metadata_prefix, set_spec, timeout=timeout), rules),
        secrets=[password] if password else None,
    )
