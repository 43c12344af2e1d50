"""The FOLIO bridge in front of the running service (in-process, real broker, SQLite)."""

from __future__ import annotations

import signal
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from folio_records import LoanStory, balance_changed, user_created
from folio_world import FolioWorld
from harness import Harness
from kafka import KafkaConsumer, TopicPartition
from sqlalchemy import func, select

from clearance.demo.eventfactory import EventFactory
from clearance.store.tables import InboxRow
from clearance.store.unit_of_work import SqlUnitOfWork

pytestmark = pytest.mark.kafka

REPO = Path(__file__).resolve().parents[3]


def uid() -> str:
    return str(uuid.uuid4())


def inbox(harness: Harness, source: str = "urn:library:central") -> dict[str, int]:
    """How many inbox entries the service holds from ``source``, per event type."""
    with SqlUnitOfWork(harness.services[0].session_factory) as uow:
        assert uow.session is not None
        rows = uow.session.execute(
            select(InboxRow.type, func.count()).where(InboxRow.source == source).group_by(InboxRow.type)
        )
        return dict(rows.all())


def wait_for_inbox(harness: Harness, expected: dict[str, int], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while inbox(harness) != expected:
        if time.monotonic() > deadline:
            raise AssertionError(f"inbox {inbox(harness)}, expected {expected}")
        time.sleep(0.2)


def test_a_student_blocked_by_a_folio_loan_and_fine_is_cleared_by_folios_events_alone(
    harness: Harness, tmp_path: Path
) -> None:
    harness.start()
    folio = FolioWorld(harness.settings.kafka_bootstrap_servers, tmp_path, prefix=harness.settings.topic_prefix)
    now = datetime.now(UTC)
    student, application, patron, account = f"S{uuid.uuid4().hex[:8]}", f"APP-{uid()[:8]}", uid(), uid()
    story = LoanStory(patron, now - timedelta(days=40))
    folio.users(user_created(patron, student, now - timedelta(days=400)))
    folio.loans(story.checkout())
    folio.fines(balance_changed(account, patron, "15000.00", loan_id=story.loan.id))
    assert folio.run_pass().published == 3
    desk = EventFactory("urn:repository:deposit-desk", lambda: now - timedelta(days=3))
    harness.publish_applied(
        desk.deposit_submitted(f"DEP-{student}", student, "Analisis Debit Sungai Brantas"),
        desk.deposit_accepted(f"DEP-{student}", student, time=now - timedelta(days=2)),
    )
    wait_for_inbox(harness, {"library.patron.linked": 1, "library.loan.opened": 1, "library.fine.assessed": 1})
    registrar = EventFactory("urn:registrar:ft", lambda: now - timedelta(days=1))
    harness.publish(registrar.application_submitted(application, student, full_name="Siti Rahmawati",
                                                    faculty="Teknik", program="Teknik Sipil"))  # fmt: skip
    harness.wait_for(harness.reached(application, "blocked"), what="blocked by FOLIO")
    reasons = harness.statuses(application)[-1]["reasons"]
    assert sorted(r["code"] for r in reasons) == ["OUTSTANDING_LOAN", "UNPAID_FINES"]
    loan = next(r for r in reasons if r["code"] == "OUTSTANDING_LOAN")
    assert loan["item_id"] == story.loan.item_id and loan["library_id"] == "central"
    assert next(r for r in reasons if r["code"] == "UNPAID_FINES")["amount"] == "15000"

    folio.loans(story.check_in(datetime.now(UTC) - timedelta(minutes=5)))
    folio.run_pass()
    harness.wait_for(
        lambda _: [r["code"] for r in harness.statuses(application)[-1]["reasons"]] == ["UNPAID_FINES"],
        what="the check-in to clear the loan",
    )
    folio.fines(balance_changed(account, patron, "0.00", loan_id=story.loan.id))
    folio.run_pass()
    [issued] = harness.wait_for(lambda _: harness.certificates(student), what="certificate")
    assert issued["certificate"]["basis"]["fines_outstanding"] == "0"
    assert harness.status(application) == "cleared"
    folio.close()


class EndOffsets:
    """How many records a topic holds so far (the sum of its partitions' end offsets)."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        self.topic = topic
        self.consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None)

    def total(self) -> int:
        partitions = [TopicPartition(self.topic, p) for p in self.consumer.partitions_for_topic(self.topic) or ()]
        return sum(self.consumer.end_offsets(partitions).values()) if partitions else 0

    def close(self) -> None:
        self.consumer.close()


def test_a_bridge_killed_mid_backfill_and_restarted_leaves_each_fact_once_in_the_inbox(
    harness: Harness, tmp_path: Path
) -> None:
    harness.start()
    folio = FolioWorld(harness.settings.kafka_bootstrap_servers, tmp_path, prefix=harness.settings.topic_prefix)
    start = datetime.now(UTC) - timedelta(days=30)
    stories = [LoanStory(uid(), start + timedelta(minutes=i)) for i in range(3000)]
    folio.loans(*(s.checkout() for s in stories))
    folio.loans(*(s.check_in(start + timedelta(days=1, minutes=i)) for i, s in enumerate(stories[:1000])))

    ours = EndOffsets(folio.bootstrap, folio.our_topic)
    first = folio.spawn(harness.environment(), "--batch-size", "100", "--once")
    deadline = time.monotonic() + 120
    while ours.total() < 200:
        assert first.poll() is None, f"the bridge ended before it was killed: {first.stderr.read()[-2000:]}"
        assert time.monotonic() < deadline, "the bridge published nothing within 120 s"
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=30)
    published_before_the_kill = ours.total()
    ours.close()
    assert published_before_the_kill < 4000, "killed too late to be mid-backfill"

    second = folio.spawn(harness.environment(), "--batch-size", "100", "--once")
    _, stderr = second.communicate(timeout=300)
    assert second.returncode == 0, stderr[-2000:]
    wait_for_inbox(harness, {"library.loan.opened": 3000, "library.loan.returned": 1000}, timeout=120)
    harness.settle(2)
    assert inbox(harness) == {"library.loan.opened": 3000, "library.loan.returned": 1000}
    folio.close()
