"""Outages, restarts and several instances: nothing lost, nothing doubled (G1, G9, G10)."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from harness import Harness, settings_for
from kafka import KafkaConsumer, TopicPartition
from services import fresh_postgres_database, postgres_admin_engine
from sqlalchemy import func, select, text
from timeline import T0

from clearance.demo.eventfactory import EventFactory
from clearance.store.engine import make_engine
from clearance.store.tables import CertificateRow, InboxRow
from schemas.registry import Topic

pytestmark = pytest.mark.kafka

registrar = EventFactory("urn:registrar:ft", lambda: T0)
central = EventFactory("urn:library:central", lambda: T0)
desk = EventFactory("urn:repository:deposit-desk", lambda: T0)


def _student_events(n: int, tag: str, blocked: bool = False) -> tuple[list[dict], list[dict], list[dict]]:
    """Circulation, deposit and application events for ``n`` students, cleared unless ``blocked``."""
    circulation, deposits, applications = [], [], []
    for i in range(n):
        student, patron = f"{tag}{i:04d}", f"P{tag}{i:04d}"
        circulation.append(central.patron_linked("central", patron, student))
        circulation.append(
            central.loan_opened(
                "central", f"L{tag}{i}", patron, item_id="B1", title="Kalkulus",
                borrowed_at=T0 - timedelta(days=20), due_at=T0 - timedelta(days=6), time=T0 - timedelta(days=20),
            )
        )  # fmt: skip
        if not blocked:
            circulation.append(central.loan_returned("central", f"L{tag}{i}", patron, T0, time=T0))
        deposits.append(desk.deposit_submitted(f"D{tag}{i}", student, "Skripsi"))
        deposits.append(desk.deposit_accepted(f"D{tag}{i}", student, time=T0 + timedelta(hours=1)))
        applications.append(
            registrar.application_submitted(
                f"A{tag}{i}", student, full_name=f"Mahasiswa {i}", faculty="MIPA", program="Fisika",
                time=T0 + timedelta(days=1),
            )
        )  # fmt: skip
    return circulation, deposits, applications


def _committed(bootstrap: str, group: str, topic: str, partitions: int = 3) -> int:
    """The sum of the group's committed offsets on ``topic`` (read without joining the group)."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
    try:
        return sum(consumer.committed(TopicPartition(topic, p)) or 0 for p in range(partitions))
    finally:
        consumer.close(autocommit=False)


@pytest.mark.postgres
def test_a_database_outage_is_waited_out_without_committing_offsets(kafka_bootstrap: str, tmp_path: Path) -> None:
    """G10: while PostgreSQL refuses connections, offsets stay put; afterwards every event is applied."""
    with fresh_postgres_database() as url:
        harness = Harness(settings_for(kafka_bootstrap, url, tmp_path))
        try:
            harness.start()
            circulation, deposits, applications = _student_events(5, "O")
            harness.publish_applied(*circulation[:3])
            group = f"{harness.settings.group_id}.{Topic.CIRCULATION.value}"
            topic = harness.settings.topic(Topic.CIRCULATION)
            harness.wait_for(lambda _: _committed(kafka_bootstrap, group, topic) >= 3, what="first offsets")
            before = _committed(kafka_bootstrap, group, topic)
            database = url.rsplit("/", 1)[1]
            admin = postgres_admin_engine()
            with admin.connect() as conn:
                conn.execute(text(f'ALTER DATABASE "{database}" WITH ALLOW_CONNECTIONS false'))
                conn.execute(
                    text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :d"), {"d": database}
                )
            harness.publish(*circulation[3:], *deposits, *applications)
            time.sleep(6)
            assert _committed(kafka_bootstrap, group, topic) == before, "offsets moved while the database was down"
            with admin.connect() as conn:
                conn.execute(text(f'ALTER DATABASE "{database}" WITH ALLOW_CONNECTIONS true'))
            admin.dispose()
            harness.wait_for(lambda _: len(harness.certificates()) == 5, timeout=60, what="all five certificates")
            engine = make_engine(url)
            everything = len(circulation) + len(deposits) + len(applications)

            def applied() -> int:
                with engine.connect() as conn:
                    return conn.execute(select(func.count()).select_from(InboxRow)).scalar_one()

            harness.wait_for(lambda _: applied() == everything, what="every event applied")
            engine.dispose()
        finally:
            harness.stop()


@pytest.mark.postgres
def test_two_instances_issue_exactly_one_certificate_per_application(kafka_bootstrap: str, tmp_path: Path) -> None:
    """G1: two instances in one consumer group over one database, events for the same students on every topic."""
    with fresh_postgres_database() as url:
        harness = Harness(settings_for(kafka_bootstrap, url, tmp_path))
        try:
            harness.start()
            harness.start()
            circulation, deposits, applications = _student_events(60, "T")
            # Interleave the topics so that both instances work on the same students at once.
            for chunk in range(0, 60, 10):
                harness.publish(
                    *circulation[chunk * 3 : (chunk + 10) * 3],
                    *deposits[chunk * 2 : (chunk + 10) * 2],
                    *applications[chunk : chunk + 10],
                )
            harness.publish(*circulation[:30], *applications[:10])  # re-sent batches
            harness.wait_for(lambda _: len({c["certificate"]["application_id"] for c in harness.certificates()}) == 60,
                             timeout=90, what="sixty certificates")  # fmt: skip
            harness.settle(3)
            numbers = [c["certificate"]["number"] for c in harness.certificates()]
            engine = make_engine(url)
            with engine.connect() as conn:
                stored = conn.execute(select(func.count()).select_from(CertificateRow)).scalar_one()
            engine.dispose()
            assert stored == 60
            assert len(set(numbers)) == 60
            # The relay may re-publish after a crash, never mint a second certificate.
            assert len(numbers) == 60
        finally:
            harness.stop()


def test_policy_can_revoke_a_certificate_when_a_loan_follows_issuance(harness: Harness, tmp_path: Path) -> None:
    """G9: with revoke_on_loan_after_issuance, a loan borrowed after the certificate revokes it."""
    policy = tmp_path / "policy.toml"
    policy.write_text("[default]\nrevoke_on_loan_after_issuance = true\n", encoding="utf-8")
    harness.settings = harness.settings.model_copy(update={"policy_file": policy})
    harness.start()
    circulation, deposits, applications = _student_events(1, "V")
    harness.publish_applied(*circulation, *deposits)
    harness.publish(*applications)
    [issued] = harness.wait_for(lambda _: harness.certificates(), what="certificate")
    issued_at = issued["certificate"]["issued_at"]
    from datetime import datetime

    later = datetime.fromisoformat(issued_at) + timedelta(minutes=5)
    harness.publish(
        central.loan_opened(
            "central", "LATE", "PV0000", item_id="B2", title="Fisika Dasar",
            borrowed_at=later, due_at=later + timedelta(days=14), time=later,
        )
    )  # fmt: skip
    [revoked] = harness.wait_for(lambda _: harness.revocations("AV0"), what="revocation")
    assert revoked["reason"] == "loan opened after issuance"
    assert harness.status("AV0") == "revoked"
    assert harness.statuses("AV0")[-1]["reasons"][0]["code"] == "LOAN_AFTER_ISSUANCE"


def test_the_pipeline_runs_the_same_on_each_database(kafka_bootstrap: str, e2e_database: str, tmp_path: Path) -> None:
    harness = Harness(settings_for(kafka_bootstrap, e2e_database, tmp_path))
    try:
        harness.start()
        circulation, deposits, applications = _student_events(3, "B", blocked=True)
        harness.publish_applied(*circulation, *deposits)
        harness.publish(*applications)
        harness.wait_for(lambda _: all(harness.status(f"AB{i}") == "blocked" for i in range(3)), what="blocked")
        harness.publish(*(central.loan_returned("central", f"LB{i}", f"PB{i:04d}", T0) for i in range(3)))
        harness.wait_for(lambda _: len(harness.certificates()) == 3, what="certificates after returns")
    finally:
        harness.stop()


def test_sigterm_finishes_the_batch_commits_and_a_restart_doubles_nothing(kafka_bootstrap: str, tmp_path: Path) -> None:
    """Graceful shutdown, then a restart that re-reads: still one certificate per application (G1)."""
    harness = Harness(settings_for(kafka_bootstrap, f"sqlite:///{tmp_path / 'c.db'}", tmp_path))
    env = harness.environment(log_format="json")
    circulation, deposits, applications = _student_events(20, "G")

    def run() -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [sys.executable, "-m", "clearance.cli", "run"], env=env, cwd=tmp_path,
            stdout=subprocess.DEVNULL, stderr=open(tmp_path / f"run-{uuid.uuid4().hex[:6]}.log", "wb"),
        )  # fmt: skip

    try:
        first = run()
        harness.publish(*circulation, *deposits)
        time.sleep(1)
        harness.publish(*applications[:10])
        harness.wait_for(lambda _: len(harness.certificates()) >= 10, timeout=60, what="first ten certificates")
        first.send_signal(signal.SIGTERM)
        assert first.wait(30) == 0
        second = run()
        harness.publish(*applications)  # the first ten again, and ten new
        harness.wait_for(lambda _: len(harness.certificates()) >= 20, timeout=60, what="twenty certificates")
        harness.settle(3)
        second.send_signal(signal.SIGINT)
        assert second.wait(30) == 0
        ids = [c["certificate"]["application_id"] for c in harness.certificates()]
        assert sorted(ids) == sorted(f"AG{i}" for i in range(20))
    finally:
        for proc in (locals().get("first"), locals().get("second")):
            if proc is not None and proc.poll() is None:
                proc.kill()
        harness.stop()
