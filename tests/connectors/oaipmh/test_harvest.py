"""The OAI-PMH connector against a real data provider (pyoai) and a real broker."""

from __future__ import annotations

import functools
import http.server
import json
import socket
import threading
from datetime import timedelta
from pathlib import Path

import pytest
from oai_harvest import SOURCE, T0, Harvest, later, put_thesis
from oai_repository import Repository
from topic_reader import read_topic

from clearance.settings import Settings
from connectors.oaipmh.connector import CHECKPOINT
from connectors.oaipmh.source import HarvestRefused, OaiSource, SourceUnavailable
from connectors.runtime import Publisher, PublishError, run
from schemas.registry import Topic, parse_event

pytestmark = pytest.mark.kafka


def _events(harvest: Harvest, at_least: int) -> list:
    records = read_topic(harvest.bootstrap, harvest.topic, at_least=at_least, settle=1.0)
    return [(r.key.decode(), parse_event(r.value, Topic.DEPOSITS)) for r in records]


def test_a_harvest_over_resumption_tokens_publishes_contract_events_for_every_thesis(
    repository: Repository, harvest: Harvest
) -> None:
    identifiers = [put_thesis(repository, n, later(n)) for n in range(1, 26)]
    result = harvest.run_pass()
    assert (result.published, result.unmappable) == (50, 0)
    assert len(repository.arguments) == 3 and "resumptionToken" in repository.arguments[-1]
    events = _events(harvest, at_least=50)
    assert len(events) == 50
    accepted = {e.data.deposit_id: (key, e) for key, e in events if e.type == "thesis.deposit.accepted"}
    assert set(accepted) == set(identifiers)
    key, event = accepted[identifiers[6]]
    assert key == event.envelope.subject == event.data.student_id == "2019000007"
    assert event.envelope.source == SOURCE
    assert event.envelope.time == later(7)


def test_a_second_pass_publishes_nothing_new(repository: Repository, harvest: Harvest) -> None:
    for n in range(1, 16):
        put_thesis(repository, n, later(n))
    harvest.run_pass()
    again = harvest.run_pass()
    assert (again.published, again.unmappable) == (0, 0)
    assert len(_events(harvest, at_least=30)) == 30


def test_an_incremental_harvest_asks_from_the_checkpoint_and_publishes_only_the_new_record(
    repository: Repository, harvest: Harvest
) -> None:
    for n in range(1, 16):
        put_thesis(repository, n, later(n))
    harvest.run_pass()
    assert harvest.state.get(CHECKPOINT) == {"from": "2026-11-02T01:15:00Z"}
    new = put_thesis(repository, 99, later(60), student="2020555001")
    result = harvest.run_pass()
    assert result.published == 2
    assert repository.arguments[-1]["from"] == "2026-11-02T01:15:00Z"
    events = _events(harvest, at_least=32)
    latest = [e for _, e in events if e.data.deposit_id == new]
    assert sorted(e.type for e in latest) == ["thesis.deposit.accepted", "thesis.deposit.submitted"]
    assert {e.data.student_id for e in latest} == {"2020555001"}
    assert harvest.state.get(CHECKPOINT) == {"from": "2026-11-02T02:00:00Z"}


def test_a_deleted_record_rejects_the_deposit_of_its_student(repository: Repository, harvest: Harvest) -> None:
    identifier = put_thesis(repository, 5, later(5), student="2019100123")
    put_thesis(repository, 6, later(6))
    harvest.run_pass()
    repository.delete(identifier, at=later(90))
    result = harvest.run_pass()
    assert result.published == 1
    rejected = [(k, e) for k, e in _events(harvest, at_least=5) if e.type == "thesis.deposit.rejected"]
    assert len(rejected) == 1
    key, event = rejected[0]
    assert key == "2019100123"
    assert event.data.model_dump() == {"deposit_id": identifier, "student_id": "2019100123",
                                       "reason": "withdrawn from the repository"}  # fmt: skip
    assert event.envelope.time == later(90)


def test_a_record_deleted_before_it_was_ever_harvested_publishes_nothing(
    repository: Repository, harvest: Harvest
) -> None:
    put_thesis(repository, 1, later(1))
    repository.delete(put_thesis(repository, 2, later(2)), at=later(3))
    result = harvest.run_pass()
    assert (result.published, result.unmappable) == (2, 0)


def test_an_unmappable_record_is_counted_once_and_the_harvest_goes_on(repository: Repository, harvest: Harvest) -> None:
    put_thesis(repository, 1, later(1))
    repository.put("oai:repository.example.ac.id:123456789/2", at=later(2), title="Laporan tahunan",
                   description=["Tanpa nomor mahasiswa"])  # fmt: skip
    repository.put("oai:repository.example.ac.id:123456789/3", at=later(3), description=["NIM: 2019000003"])
    put_thesis(repository, 4, later(4))
    first = harvest.run_pass()
    assert (first.published, first.unmappable) == (4, 2)
    again = harvest.run_pass()  # record 3 holds the checkpoint's datestamp and is listed again
    assert (again.published, again.unmappable) == (0, 0)


def test_the_degree_level_is_read_from_etdms(repository: Repository, harvest: Harvest) -> None:
    put_thesis(repository, 1, later(1), degree_level="1", degree_name="Magister Teknik")
    put_thesis(repository, 2, later(2))
    harvest.metadata_prefix = "etdms"
    harvest.run_pass()
    levels = {e.data.deposit_id[-1]: e.data.degree_level.value
              for _, e in _events(harvest, at_least=4) if e.type == "thesis.deposit.submitted"}  # fmt: skip
    assert levels == {"1": "S2", "2": "S1"}


def test_only_the_named_set_is_harvested(repository: Repository, harvest: Harvest) -> None:
    put_thesis(repository, 1, later(1), sets=("col_123456789_5",))
    put_thesis(repository, 2, later(2), sets=("col_123456789_9",))
    harvest.set_spec = "col_123456789_5"
    assert harvest.run_pass().published == 2
    assert {e.data.deposit_id[-1] for _, e in _events(harvest, at_least=2)} == {"1"}


def test_no_records_match_is_a_pass_with_nothing_to_publish(repository: Repository, harvest: Harvest) -> None:
    result = harvest.run_pass()
    assert (result.published, result.unmappable) == (0, 0)
    assert harvest.state.get(CHECKPOINT) is None


def test_an_unreachable_repository_fails_the_pass_and_a_later_pass_succeeds(
    repository: Repository, harvest: Harvest
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}/oai/request"
    working_url, harvest.url = harvest.url, closed
    with pytest.raises(SourceUnavailable):
        harvest.run_pass()
    code = run(harvest.connector(), publisher=harvest.publisher, state=harvest.state, once=True, interval=0,
               metrics_host="127.0.0.1", metrics_port=0)  # fmt: skip
    assert code == 1
    put_thesis(repository, 1, later(1))
    harvest.url = working_url
    assert harvest.run_pass().published == 2


def test_a_format_the_repository_does_not_disseminate_is_refused(harvest: Harvest, repository: Repository) -> None:
    put_thesis(repository, 1, later(1))
    source = OaiSource(harvest.url, "uketd_dc")
    with pytest.raises(HarvestRefused, match="CannotDisseminateFormat"):
        list(source.pages(None))
    source.close()


def test_every_published_value_is_a_structured_cloudevent_keyed_by_student(
    repository: Repository, harvest: Harvest
) -> None:
    put_thesis(repository, 1, T0 + timedelta(seconds=1))
    harvest.run_pass()
    [first, second] = read_topic(harvest.bootstrap, harvest.topic, at_least=2)
    for record in (first, second):
        assert record.headers["content-type"] == b"application/cloudevents+json"
        assert json.loads(record.value)["specversion"] == "1.0"
        assert record.key == b"2019000001"


class _QuietFiles(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


def test_a_web_server_that_is_not_a_repository_fails_the_pass(tmp_path: Path) -> None:
    (tmp_path / "index.html").write_text("<html><body>Selamat datang</body></html>")
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_QuietFiles, directory=str(tmp_path)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        for path in ("/oai/request", "/index.html"):  # a 404 page, and a 200 that is HTML
            source = OaiSource(f"http://127.0.0.1:{server.server_port}{path}", "oai_dc", timeout=5)
            with pytest.raises(SourceUnavailable):
                list(source.pages(None))
            source.close()
    finally:
        server.shutdown()
        server.server_close()


def test_nothing_is_checkpointed_while_the_broker_does_not_acknowledge(
    repository: Repository, harvest: Harvest
) -> None:
    for n in range(1, 4):
        put_thesis(repository, n, later(n))
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        nowhere = f"127.0.0.1:{probe.getsockname()[1]}"
    down = Publisher(Settings(kafka_bootstrap_servers=nowhere), harvest.topic)  # fails after ~30 s of bootstrapping
    working, harvest.publisher = harvest.publisher, down
    with pytest.raises(PublishError):
        harvest.run_pass()
    down.close()
    assert harvest.state.get(CHECKPOINT) is None and harvest.state.scan("record:") == {}
    harvest.publisher = working
    assert harvest.run_pass().published == 6
