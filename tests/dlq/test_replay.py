"""Dead-letter tools: list, and replay after a fix without applying anything twice (G7)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from harness import Harness
from sqlalchemy import select
from timeline import T0

from clearance.demo.eventfactory import EventFactory, record_of
from clearance.store.deadletters import list_dead_letters, replay
from clearance.store.engine import make_engine, make_session_factory
from clearance.store.tables import DeadLetterRow
from clearance.store.unit_of_work import SqlUnitOfWork
from schemas.registry import Topic

central = EventFactory("urn:library:central", lambda: T0)


def _letter(topic: str, offset: int, value: bytes, kind: str = "processing-failed") -> DeadLetterRow:
    return DeadLetterRow(
        origin_topic=topic, origin_partition=0, origin_offset=offset, key=b"P1", value=value, error_kind=kind,
        error_message="rejected by a bug since fixed", created_at=datetime.now(UTC),
    )  # fmt: skip


def test_replay_publishes_to_the_origin_and_skips_events_processed_since(session_factory) -> None:
    fresh = central.patron_linked("central", "P1", "S1")
    processed = central.patron_linked("central", "P2", "S2")
    with SqlUnitOfWork(session_factory) as uow:
        uow.session.add_all([
            _letter("library.circulation", 1, record_of(fresh)[1]),
            _letter("library.circulation", 2, record_of(processed)[1]),
            _letter("library.circulation", 3, b"{not json", kind="invalid-json"),
        ])  # fmt: skip
        uow.inbox.remember([(processed["source"], processed["id"], processed["type"])], datetime.now(UTC))
        uow.commit()
    sent: list[tuple[str, bytes | None, bytes | None]] = []
    with SqlUnitOfWork(session_factory) as uow:
        report = replay(uow.session, lambda t, k, v: sent.append((t, k, v)), event_type="library.patron.linked")
        uow.commit()
    assert [t for t, _, _ in sent] == ["library.circulation"]
    assert json.loads(sent[0][2])["id"] == fresh["id"] and sent[0][1] == b"P1"
    assert (len(report.replayed), len(report.already_processed)) == (1, 1)
    with SqlUnitOfWork(session_factory) as uow:
        views = list_dead_letters(uow.session)
    assert [(v.event_type, v.processed, v.replay_count) for v in views] == [
        ("library.patron.linked", False, 1), ("library.patron.linked", True, 0), (None, False, 0),
    ]  # fmt: skip


def test_a_dry_run_publishes_nothing_and_records_nothing(session_factory) -> None:
    with SqlUnitOfWork(session_factory) as uow:
        uow.session.add(_letter("library.circulation", 1, record_of(central.patron_linked("c", "P", "S"))[1]))
        uow.commit()
    with SqlUnitOfWork(session_factory) as uow:
        report = replay(uow.session, lambda *_: pytest.fail("published in a dry run"), dry_run=True)
        uow.commit()
    assert len(report.replayed) == 1
    with SqlUnitOfWork(session_factory) as uow:
        assert uow.session.scalars(select(DeadLetterRow.replay_count)).one() == 0


def test_filters_by_time_and_kind(session_factory) -> None:
    with SqlUnitOfWork(session_factory) as uow:
        old = _letter("t", 1, b"x", kind="invalid-json")
        old.created_at = datetime.now(UTC) - timedelta(days=3)
        uow.session.add_all([old, _letter("t", 2, b"y", kind="schema")])
        uow.commit()
    with SqlUnitOfWork(session_factory) as uow:
        assert [
            v.origin_offset for v in list_dead_letters(uow.session, since=datetime.now(UTC) - timedelta(days=1))
        ] == [2]
        assert [v.origin_offset for v in list_dead_letters(uow.session, kind="invalid-json")] == [1]


@pytest.mark.kafka
def test_the_replay_command_feeds_a_fixed_event_back_to_the_running_service(harness: Harness, tmp_path: Path) -> None:
    service = harness.start()
    link = central.patron_linked("central", "P-RE", "S-RE")
    origin = harness.settings.topic(Topic.CIRCULATION)
    with SqlUnitOfWork(service.session_factory) as uow:
        uow.session.add(_letter(origin, 99, record_of(link)[1]))
        uow.commit()
    env = {
        **os.environ,
        "CLEARANCE_KAFKA_BOOTSTRAP_SERVERS": harness.settings.kafka_bootstrap_servers,
        "CLEARANCE_DATABASE_URL": harness.settings.database_url,
        "CLEARANCE_LOG_FORMAT": "console",
    }
    command = [sys.executable, "-m", "clearance.cli", "dlq", "replay"]
    first = subprocess.run(command, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60, check=True)
    assert "replayed 1" in first.stdout
    harness.wait_for(lambda _: _applied(harness, link), what="the replayed event applied")
    second = subprocess.run(command, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60, check=True)
    assert "replayed 0" in second.stdout and "already processed 1" in second.stdout
    listing = subprocess.run([sys.executable, "-m", "clearance.cli", "dlq", "list"], env=env, cwd=tmp_path,
                             capture_output=True, text=True, timeout=60, check=True)  # fmt: skip
    assert "library.patron.linked" in listing.stdout and "yes" in listing.stdout


def _applied(harness: Harness, event: dict) -> bool:
    engine = make_engine(harness.settings.database_url)
    try:
        with SqlUnitOfWork(make_session_factory(engine)) as uow:
            return bool(uow.inbox.seen([(event["source"], event["id"])]))
    finally:
        engine.dispose()
