"""A backfill SIGKILLed just after its first acknowledged batch and run again: the service holds each fact once."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from harness import Harness
from slims_desk import Desk
from sqlalchemy import create_engine, text
from topic_reader import read_topic

from schemas.registry import Topic

pytestmark = pytest.mark.kafka

REPO = Path(__file__).resolve().parents[3]
MEMBERS = 4_000
FACTS = 3 * MEMBERS  # per member: the student link, the open loan, the first-sight snapshot


def _checkpointed(state: Path) -> int:
    try:
        with sqlite3.connect(state, timeout=0.1) as conn:
            return conn.execute("SELECT count(*) FROM connector_state WHERE key LIKE 'member:%'").fetchone()[0]
    except sqlite3.OperationalError:  # not created yet, or locked by the writer for a moment
        return 0


def _inbox(database_url: str, source: str) -> int:
    engine = create_engine(database_url)
    with engine.connect() as conn:
        count = conn.execute(text("SELECT count(*) FROM inbox WHERE source = :s"), {"s": source}).scalar_one()
    engine.dispose()
    return count


def test_a_backfill_killed_midway_and_restarted_gives_the_inbox_each_fact_once(
    harness: Harness, slims_url: str, desk: Desk, tmp_path: Path
) -> None:
    desk.many_checkouts(MEMBERS)
    state = tmp_path / "connector-slims.db"
    command = [sys.executable, "-m", "connectors", "slims", "--dsn", slims_url, "--library-id", "central", "--once",
               "--state-url", f"sqlite:///{state}", "--metrics-port", "0"]  # fmt: skip
    env = {**harness.environment(), "PYTHONPATH": str(REPO), "CLEARANCE_LOG_FORMAT": "console"}
    with open(tmp_path / "first.log", "wb") as log:
        first = subprocess.Popen(command, env=env, stderr=log)
        deadline = time.monotonic() + 120
        while _checkpointed(state) == 0:
            assert first.poll() is None, "the backfill ended before its first checkpoint was seen"
            assert time.monotonic() < deadline, "no checkpoint within 120 s"
            time.sleep(0.005)
        # A moment into the next batch, so that some of it is on the broker but not checkpointed; and never
        # later than the next checkpoint, so that a fast machine does not finish the backfill first.
        seen, moment = _checkpointed(state), time.monotonic() + 0.5
        while time.monotonic() < moment and _checkpointed(state) == seen:
            time.sleep(0.005)
        first.send_signal(signal.SIGKILL)
        assert first.wait(30) == -signal.SIGKILL
    at_kill = _checkpointed(state)
    assert 0 < at_kill < MEMBERS, "killed after the whole backfill: the test proved nothing"

    second = subprocess.run(command, env=env, capture_output=True, timeout=300)
    assert second.returncode == 0, second.stderr.decode()[-2000:]
    assert _checkpointed(state) == MEMBERS

    topic = harness.settings.topic(Topic.CIRCULATION)
    records = read_topic(harness.settings.kafka_bootstrap_servers, topic, at_least=FACTS, timeout=120)
    distinct = {json.loads(r.value)["id"] for r in records}
    assert len(distinct) == FACTS  # every fact under one id, however often it was sent
    print(f"members checkpointed at the kill: {at_kill}; records {len(records)}, distinct ids {len(distinct)}")

    harness.start()
    deadline = time.monotonic() + 180
    while (held := _inbox(harness.settings.database_url, "urn:library:central")) < FACTS:
        assert time.monotonic() < deadline, f"the service holds {held} of {FACTS} facts after 180 s"
        time.sleep(0.5)
    harness.settle(1.0)
    assert _inbox(harness.settings.database_url, "urn:library:central") == FACTS
    engine = create_engine(harness.settings.database_url)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM loans WHERE library_id = 'central'")).scalar_one() == MEMBERS
    engine.dispose()
