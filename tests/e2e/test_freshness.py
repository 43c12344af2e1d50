"""The freshness gate end to end: an application read before an earlier loan must not clear."""

from __future__ import annotations

from datetime import timedelta

import pytest
from harness import Harness
from timeline import T0

from clearance.eventfactory import EventFactory

pytestmark = pytest.mark.kafka

registrar = EventFactory("urn:registrar:ft", lambda: T0)
central = EventFactory("urn:library:central", lambda: T0)
desk = EventFactory("urn:repository:deposit-desk", lambda: T0)


def test_an_application_consumed_before_an_earlier_loan_does_not_clear(harness: Harness) -> None:
    harness.start()
    harness.publish_applied(
        desk.deposit_submitted("DEP-F", "SF", "Skripsi"),
        desk.deposit_accepted("DEP-F", "SF", time=T0 + timedelta(hours=1)),
    )
    # A backlog in the circulation stream, the student's loan at its end, then the application.
    backlog = [central.patron_linked("central", f"X{i}", f"OTHER{i}") for i in range(3000)]
    loan = central.loan_opened(
        "central", "LF", "PF", item_id="B1", title="Kalkulus", borrowed_at=T0 - timedelta(days=9),
        due_at=T0 - timedelta(days=2), time=T0 - timedelta(days=9),
    )  # fmt: skip
    harness.publish(*backlog, central.patron_linked("central", "PF", "SF"), loan)
    harness.publish(registrar.application_submitted("APP-F", "SF", full_name="F", faculty="Teknik", program="Sipil"))
    harness.wait_for(harness.reached("APP-F", "blocked"), timeout=90, what="blocked by the loan")
    harness.settle(1)
    statuses = [s["status"] for s in harness.statuses("APP-F")]
    assert "cleared" not in statuses
    assert harness.certificates("SF") == []
    assert harness.statuses("APP-F")[-1]["reasons"][0]["code"] == "OUTSTANDING_LOAN"
