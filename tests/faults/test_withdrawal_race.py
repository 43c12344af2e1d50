"""A withdrawal and a return for the same student at the same moment, on two instances over PostgreSQL (G1, G9, G10).

Whichever the service applies first, each application ends withdrawn, a certificate
issued in between is revoked, and no transaction deadlocks on the students' locks.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from faults.workload import Workload, central, check_invariants, registrar
from harness import Harness, settings_for
from kafka import KafkaProducer
from services import fresh_postgres_database
from sqlalchemy import select, text
from timeline import T0

from clearance.demo.eventfactory import record_of, topic_of
from clearance.store.engine import make_engine, make_session_factory
from clearance.store.tables import CertificateRow
from clearance.store.unit_of_work import SqlUnitOfWork

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]

FRESHNESS_BOUND = 600.0  # as in test_faults: out of reach
# How long the withdrawals' thread waits after the returns', in seconds, for successive groups of racing students.
# At the same moment the withdrawal is often applied first, or the freshness gate holds the certificate (in the
# first run with one group at 0 s, no certificate was issued); a return a little ahead lets a certificate be
# issued first, so that its revocation races too.
LEADS = (0.0, 0.0, 0.0, 0.2, 1.0)


def _race(harness: Harness, withdrawals: list[dict[str, Any]], returns: list[dict[str, Any]], lead: float) -> None:
    """Publish the returns and the withdrawals from two threads and producers released by one barrier.

    The withdrawals' thread waits ``lead`` seconds after the barrier: 0 is the same moment.
    """
    barrier = threading.Barrier(2)
    failures: list[BaseException] = []

    def send(events: list[dict[str, Any]], delay: float) -> None:
        producer = KafkaProducer(bootstrap_servers=harness.settings.kafka_bootstrap_servers, acks="all")
        try:
            barrier.wait(30)
            time.sleep(delay)
            futures = []
            for event in events:
                key, value = record_of(event)
                futures.append(producer.send(harness.settings.topic(topic_of(event)), key=key, value=value))
            producer.flush()
            for future in futures:
                future.get(timeout=30)
        except BaseException as exc:  # reported by the test, not lost in the thread
            failures.append(exc)
        finally:
            producer.close()

    threads = [
        threading.Thread(target=send, args=(returns, 0.0)),
        threading.Thread(target=send, args=(withdrawals, lead)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not failures, f"a racing producer failed: {failures!r}"


def _deadlocks(url: str) -> int:
    """The deadlocks PostgreSQL detected in the test's own database (its backends flush their counts on exit)."""
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            query = text("SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()")
            return int(conn.execute(query).scalar_one())
    finally:
        engine.dispose()


def _revoked_in_store(url: str, applications: set[str]) -> set[str]:
    engine = make_engine(url)
    try:
        with SqlUnitOfWork(make_session_factory(engine)) as uow:
            return set(
                uow.session.scalars(
                    select(CertificateRow.application_id).where(
                        CertificateRow.application_id.in_(applications), CertificateRow.revoked_at.is_not(None)
                    )
                )
            )
    finally:
        engine.dispose()


def test_withdrawals_racing_returns_on_two_instances_end_withdrawn_without_deadlock(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    """G9, G10: each blocked student's withdrawal and loan return published from two threads, at once or nearly."""
    tag = "W"
    workload = Workload(tag, 150)
    racing = sorted(workload.blocked_by_loan)
    withdrawals, returns = [], []
    for app in racing:
        i = int(app[-4:])
        withdrawals.append(registrar.application_withdrawn(app, f"{tag}S{i:04d}", reason="pindah kampus", time=T0))
        returns.append(central.loan_returned("central", f"{tag}L{i}", f"{tag}P{i:04d}", T0, time=T0))
    with fresh_postgres_database() as url:
        harness = Harness(
            settings_for(
                kafka_bootstrap, url, tmp_path, batch_max_records=20, freshness_max_wait_seconds=FRESHNESS_BOUND
            )
        )
        try:
            harness.start()
            harness.start()
            harness.publish(*workload.events)
            harness.publish(*workload.applications)
            workload.wait_settled(harness, timeout=90)
            workload.events += withdrawals + returns
            for n, lead in enumerate(LEADS):
                group = slice(n * len(racing) // len(LEADS), (n + 1) * len(racing) // len(LEADS))
                _race(harness, withdrawals[group], returns[group], lead)
            workload.wait_settled(harness, timeout=90, withdrawn=racing)
            harness.settle(2)
        finally:
            harness.stop()
        deadlocks = _deadlocks(url)
        issued = {c["certificate"]["application_id"] for c in harness.certificates()} & set(racing)
        paths = Counter("→".join(s["status"] for s in harness.statuses(app)) for app in racing)
        print(f"withdrawal-race: published status paths {dict(paths)}")
        print(f"withdrawal-race: {len(racing)} races, {len(issued)} certificates issued before the withdrawal "
              f"({len(_revoked_in_store(url, set(racing)))} revoked in the store), deadlocks={deadlocks}")  # fmt: skip
        assert deadlocks == 0, f"PostgreSQL detected {deadlocks} deadlocks"
        check_invariants(workload, harness, url, "withdrawal-race", len(racing), withdrawn=racing)
