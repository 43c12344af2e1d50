"""End to end: SLiMS's tables, driven as the desk does, are what blocks and clears a student at the
running service (in process, real broker, SQLite)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from harness import Harness
from slims_desk import Desk
from slims_library import Library

from clearance.eventfactory import EventFactory

pytestmark = pytest.mark.kafka

NIM = "2019100123"
APPLICATION = "APP-2026-2-0001"


def _clock() -> datetime:
    return datetime.now(ZoneInfo("Asia/Jakarta")) - timedelta(seconds=5)


registrar = EventFactory("urn:registrar:ft", _clock)
repository = EventFactory("urn:repository:deposit-desk", _clock)


@pytest.fixture
def campus(harness: Harness, slims_url: str, tmp_path: Path) -> tuple[Harness, Library]:
    """The service running, the student's thesis accepted, and SLiMS publishing to the service's topic."""
    harness.start()
    harness.publish_applied(
        repository.deposit_submitted("DEP-1", NIM, "Analisis Debit Sungai Brantas"),
        repository.deposit_accepted("DEP-1", NIM, repository_id="hdl:123/456"),
    )
    library = Library(slims_url, harness.settings.kafka_bootstrap_servers, f"sqlite:///{tmp_path / 'slims.db'}",
                      prefix=harness.settings.topic_prefix)  # fmt: skip
    return harness, library


def _apply(harness: Harness) -> None:
    harness.publish(registrar.application_submitted(APPLICATION, NIM, full_name="Siti Rahmawati", faculty="Teknik",
                                                    program="Teknik Sipil"))  # fmt: skip


def _reasons(harness: Harness, condition: Callable[[list[dict[str, Any]]], bool], what: str) -> list[dict[str, Any]]:
    def check(_: object) -> list[dict[str, Any]] | None:
        history = harness.statuses(APPLICATION)
        if history and history[-1]["status"] == "blocked" and condition(history[-1]["reasons"]):
            return history[-1]["reasons"]
        return None

    return harness.wait_for(check, what=what)


def _library_reasons(reasons: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in reasons if r["code"] in ("OUTSTANDING_LOAN", "UNPAID_FINES")]


def test_a_slims_loan_blocks_names_its_title_follows_its_renewal_and_its_return_clears(
    campus: tuple[Harness, Library], desk: Desk
) -> None:
    harness, library = campus
    desk.member(NIM)
    desk.title("Mekanika Fluida", "B0001")
    loan_id = desk.checkout(NIM, "B0001", date(2026, 11, 20), date(2026, 11, 27))
    library.run_pass()
    _apply(harness)
    [reason] = _library_reasons(_reasons(harness, lambda r: bool(_library_reasons(r)), "blocked by the loan"))
    assert (reason["code"], reason["title"], reason["library_id"]) == ("OUTSTANDING_LOAN", "Mekanika Fluida", "central")
    assert reason["due_at"] == "2026-11-27T00:00:00+07:00"

    desk.renew(loan_id, date(2026, 12, 11))
    library.run_pass()
    _reasons(harness, lambda r: any(x.get("due_at") == "2026-12-11T00:00:00+07:00" for x in r), "the new due date")

    desk.give_back(loan_id, date.today())
    library.run_pass()
    harness.wait_for(harness.reached(APPLICATION, "cleared"), what="cleared by the return")
    assert len(harness.certificates(NIM)) == 1


def test_a_slims_fine_blocks_until_paid_in_full(campus: tuple[Harness, Library], desk: Desk) -> None:
    harness, library = campus
    desk.member(NIM)
    fine_id = desk.overdue_fine(NIM, 15000, "B0001", date(2026, 12, 1))
    library.run_pass()
    _apply(harness)
    _reasons(harness, lambda r: {"code": "UNPAID_FINES", "library_id": "central", "amount": "15000",
                                 "currency": "IDR"} in r, "blocked by 15000")  # fmt: skip
    desk.pay(fine_id, 10000)
    library.run_pass()
    _reasons(harness, lambda r: any(x.get("amount") == "5000" for x in r), "blocked by the 5000 left")
    desk.pay(fine_id, 15000)
    library.run_pass()
    harness.wait_for(harness.reached(APPLICATION, "cleared"), what="cleared by the payment")


def test_a_loan_and_a_fine_both_block_and_only_the_desk_clears_them(
    campus: tuple[Harness, Library], desk: Desk
) -> None:
    harness, library = campus
    desk.member(NIM)
    desk.title("Statika Struktur", "B0002")
    loan_id = desk.checkout(NIM, "B0002", date(2026, 11, 1), date(2026, 11, 8))
    fine_id = desk.overdue_fine(NIM, 7000, "B0005", date(2026, 11, 30))
    library.run_pass()
    _apply(harness)
    _reasons(harness, lambda r: len(_library_reasons(r)) == 2, "blocked by the loan and the fine")

    desk.give_back(loan_id, date.today())
    desk.overdue_fine(NIM, 2000, "B0002", date.today())  # returned late: SLiMS charges at the return
    library.run_pass()
    _reasons(harness, lambda r: [x["code"] for x in _library_reasons(r)] == ["UNPAID_FINES"]
             and _library_reasons(r)[0]["amount"] == "9000", "blocked by 9000 of fines only")  # fmt: skip

    desk.forgive(fine_id)
    library.run_pass()
    _reasons(harness, lambda r: any(x.get("amount") == "2000" for x in r), "blocked by the late-return fine")
    with desk.conn.cursor() as cursor:
        cursor.execute("UPDATE fines SET credit = debet WHERE member_id = %s", (NIM,))
    library.run_pass()
    harness.wait_for(harness.reached(APPLICATION, "cleared"), what="cleared")
    assert len(harness.certificates(NIM)) == 1
