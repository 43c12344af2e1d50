"""The OAI-PMH connector with the running service: a real repository, a real broker, the service on SQLite."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import time
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from harness import Harness
from oai_harvest import SOURCE, STUDENT_ID_PATTERN, Harvest, connector_argv, later, put_thesis, thesis_id
from oai_repository import Repository, serve
from sqlalchemy import func, select
from timeline import T0
from topic_reader import read_topic

from clearance.demo.eventfactory import EventFactory
from clearance.store.tables import InboxRow
from connectors.runtime import Publisher, StateStore
from schemas.registry import Topic

pytestmark = pytest.mark.kafka

REPO = Path(__file__).resolve().parents[3]
registrar = EventFactory("urn:registrar:ft", lambda: T0)


def _student() -> tuple[str, str]:
    n = uuid.uuid4().int % 10**8
    return f"20{n:08d}", f"APP-{n:08d}"


def _inbox_count(harness: Harness) -> int:
    with harness.services[0].session_factory() as session:
        return session.scalar(select(func.count()).select_from(InboxRow).where(InboxRow.source == SOURCE)) or 0


def test_a_student_without_a_deposit_is_cleared_once_the_repository_serves_the_thesis_and_it_is_harvested(
    harness: Harness, repository: Repository, oai_url: str, tmp_path: Path
) -> None:
    harness.start()
    student, application = _student()
    harness.publish(registrar.application_submitted(
        application, student, full_name="Siti Rahmawati", faculty="Teknik", program="Teknik Sipil",
        time=T0 + timedelta(days=2)))  # fmt: skip
    harness.wait_for(harness.reached(application, "blocked"), what="blocked")
    assert [r["code"] for r in harness.statuses(application)[-1]["reasons"]] == ["THESIS_NOT_DEPOSITED"]

    settings = harness.settings
    state = StateStore(f"sqlite:///{tmp_path / 'connector-oai-pmh.db'}", "oai-pmh")
    publisher = Publisher(settings, settings.topic(Topic.DEPOSITS))
    harvest = Harvest(oai_url, settings.kafka_bootstrap_servers, settings.topic(Topic.DEPOSITS), state, publisher)
    try:
        assert harvest.run_pass().published == 0  # the repository does not hold the thesis yet
        harness.settle(1.0)
        assert harness.status(application) == "blocked"
        put_thesis(repository, 1, later(1), student=student)
        assert harvest.run_pass().published == 2
        harness.wait_for(harness.reached(application, "cleared"), what="cleared")
    finally:
        publisher.close()
        state.close()
    [issued] = harness.certificates(student)
    assert issued["certificate"]["basis"]["deposit_id"] == thesis_id(1)


def _state_rows(path: Path) -> int:
    if not path.exists():
        return 0
    try:
        with sqlite3.connect(path, timeout=1) as db:
            return db.execute("SELECT count(*) FROM connector_state WHERE key LIKE 'record:%'").fetchone()[0]
    except sqlite3.OperationalError:  # the table is not made yet, or the connector holds the write lock
        return 0


def test_a_connector_killed_mid_harvest_and_restarted_duplicates_nothing_in_the_inbox(
    harness: Harness, tmp_path: Path
) -> None:
    harness.start()
    repository = Repository()
    total = 1000
    for n in range(1, total + 1):
        put_thesis(repository, n, later(0) + timedelta(seconds=n))
    state_path = tmp_path / "connector-oai-pmh.db"
    # 20 records a response, each answered after 50 ms: 50 responses, two batches of 1000 events.
    with serve(repository, batch_size=20, delay=0.05) as url:
        argv = [*connector_argv(), "--url", url, "--metadata-prefix", "oai_dc", "--student-id-field", "description",
                "--student-id-pattern", STUDENT_ID_PATTERN, "--source", SOURCE, "--state-url",
                f"sqlite:///{state_path}", "--metrics-port", "0", "--once"]  # fmt: skip
        env = {**harness.environment(), "PYTHONPATH": str(REPO)}
        first = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while _state_rows(state_path) == 0:
            assert first.poll() is None, "the connector ended before it was killed"
            assert time.monotonic() < deadline, "the connector checkpointed nothing within 60 s"
            time.sleep(0.01)
        assert first.poll() is None and repository.requests < total // 20, "killed too late: not mid-harvest"
        os.kill(first.pid, signal.SIGKILL)
        first.wait(10)
        remembered = _state_rows(state_path)
        assert 0 < remembered < total
        second = subprocess.run(argv, env=env, timeout=120, capture_output=True)
        assert second.returncode == 0, second.stderr.decode()[-2000:]

    deadline = time.monotonic() + 120
    while _inbox_count(harness) < 2 * total:
        assert time.monotonic() < deadline, f"the inbox holds {_inbox_count(harness)} of {2 * total} events"
        time.sleep(0.2)
    harness.settle(1.0)
    assert _inbox_count(harness) == 2 * total
    assert _state_rows(state_path) == total
    # The restart did not publish everything again: what the killed run had checkpointed was skipped
    # (a batch acknowledged but not yet checkpointed is sent again, with the ids the inbox holds).
    on_topic = read_topic(harness.settings.kafka_bootstrap_servers, harness.settings.topic(Topic.DEPOSITS),
                          at_least=2 * total)  # fmt: skip
    assert len(on_topic) < 2 * 2 * total
