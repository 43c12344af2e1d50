"""Where the next harvest starts, which record versions a pass skips, and the command's checks of its options."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from lxml import etree

from connectors.oaipmh.command import command, default_source
from connectors.oaipmh.connector import already_handled, next_from
from connectors.oaipmh.mapping import HarvestedRecord
from connectors.oaipmh.source import parse_record, without_credentials


def test_the_next_harvest_starts_at_the_latest_datestamp_seen() -> None:
    assert next_from("2026-11-20T02:15:00Z", "2026-12-07T06:00:00Z") == "2026-11-20T02:15:00Z"


def test_a_datestamp_later_than_the_lists_first_response_gives_way_to_that_response_date() -> None:
    # a record changed while the list was served: records changed before it may sit on pages already read
    assert next_from("2026-12-07T06:00:09Z", "2026-12-07T06:00:00Z") == "2026-12-07T06:00:00Z"


def test_a_day_granular_repository_gets_a_day_back() -> None:
    assert next_from("2026-12-08", "2026-12-07T06:00:00Z") == "2026-12-07"
    assert next_from("2026-11-20", "2026-12-07T06:00:00Z") == "2026-11-20"


def test_a_record_version_is_handled_once_and_its_deletion_is_a_new_version() -> None:
    entry = {"datestamp": "2026-11-20T02:15:00Z", "deleted": False, "student_id": "2019100123"}
    record = HarvestedRecord("oai:x:1", "2026-11-20T02:15:00Z")
    assert already_handled(record, entry)
    assert not already_handled(HarvestedRecord("oai:x:1", "2026-11-21T00:00:00Z"), entry)
    assert not already_handled(HarvestedRecord("oai:x:1", "2026-11-20T02:15:00Z", deleted=True), entry)
    assert not already_handled(record, None)


def test_the_default_source_names_the_repositorys_host() -> None:
    assert default_source("https://repository.example.ac.id:8443/server/oai/request") == (
        "urn:repository:repository.example.ac.id"
    )


def test_credentials_in_the_url_are_never_logged() -> None:
    assert without_credentials("https://harvester:s3cret@eprints.example.ac.id/cgi/oai2") == (
        "https://eprints.example.ac.id/cgi/oai2"
    )


_REQUIRED = ["--metadata-prefix", "oai_dc", "--student-id-field", "description", "--once", "--metrics-port", "0"]


@pytest.mark.parametrize(
    ("arguments", "complaint"),
    [
        (["--url", "ftp://repository.example.ac.id/oai", *_REQUIRED], "http(s) OAI-PMH base URL"),
        (["--url", "https://r.example/oai", "--student-id-pattern", r"NIM:\s*\d+", *_REQUIRED], "needs a group"),
        (["--url", "https://r.example/oai", "--student-id-pattern", "NIM:(", *_REQUIRED], "not a regular expression"),
        (["--url", "https://r.example/oai", "--metadata-prefix", "mods", "--student-id-field", "x"], "mods"),
    ],
)
def test_bad_options_are_refused_before_anything_runs(arguments: list[str], complaint: str) -> None:
    result = CliRunner().invoke(command, arguments)
    assert result.exit_code == 2
    assert complaint in result.output


def test_a_record_element_is_read_by_local_names_whatever_comes_before_its_metadata() -> None:
    xml = b"""<record xmlns="http://www.openarchives.org/OAI/2.0/">
      <header><identifier>oai:eprints.example.ac.id:42</identifier><datestamp>2026-11-20</datestamp></header>
      <metadata><!-- exported by EPrints -->
        <oai_dc:dc xmlns:oai_dc="http://www.openarchives.org/OAI/2.0/oai_dc/"
                   xmlns:dc="http://purl.org/dc/elements/1.1/">
          <dc:title> Analisis Debit </dc:title><dc:identifier>NIM 2019100123</dc:identifier><dc:identifier/>
        </oai_dc:dc>
      </metadata></record>"""
    record = parse_record(etree.fromstring(xml))
    assert record == HarvestedRecord("oai:eprints.example.ac.id:42", "2026-11-20", False,
                                     {"title": ("Analisis Debit",), "identifier": ("NIM 2019100123",)})  # fmt: skip


def test_a_deleted_record_element_has_no_metadata() -> None:
    xml = b"""<record xmlns="http://www.openarchives.org/OAI/2.0/"><header status="deleted">
      <identifier>oai:eprints.example.ac.id:42</identifier><datestamp>2026-11-21T00:00:00Z</datestamp></header></record>"""
    assert parse_record(etree.fromstring(xml)) == HarvestedRecord(
        "oai:eprints.example.ac.id:42", "2026-11-21T00:00:00Z", True
    )
