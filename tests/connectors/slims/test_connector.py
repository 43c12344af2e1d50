"""The SLiMS connector over a real MariaDB (tables as SLiMS 9 defines them) and a real broker."""

from __future__ import annotations

from collections import Counter
from datetime import date

import pytest
import sqlalchemy.exc
from slims_desk import Desk
from slims_library import Library
from sqlalchemy import text

from connectors.slims.source import engine_for

pytestmark = pytest.mark.kafka

NIM = "2019100123"


def _lend(desk: Desk, member: str = NIM, code: str = "B0001", title: str = "Mekanika Fluida") -> int:
    desk.title(title, code)
    return desk.checkout(member, code, date(2026, 11, 20), date(2026, 11, 27))


def _types(events: list[dict]) -> Counter[str]:
    return Counter(e["type"] for e in events)


def test_the_backfill_publishes_members_loans_and_fines_as_contract_events(desk: Desk, library: Library) -> None:
    desk.member(NIM)
    desk.member("2019100456", name="Budi Santoso")
    loan_id = _lend(desk)
    fine_id = desk.overdue_fine("2019100456", 15000, "B0009", date(2026, 12, 1))
    result = library.run_pass()
    events = library.events(at_least=result.published)
    assert result.published == len(events) == 6
    assert _types(events) == {"library.patron.linked": 2, "library.loan.opened": 1, "library.fine.assessed": 1,
                              "library.patron.snapshot": 2}  # fmt: skip
    [opened] = [e for e in events if e["type"] == "library.loan.opened"]
    assert opened["subject"] == NIM
    assert opened["source"] == "urn:library:central"
    assert opened["data"] | {"borrowed_at": None} == {
        "loan_id": str(loan_id), "library_id": "central", "patron_id": NIM, "item_id": "B0001",
        "title": "Mekanika Fluida", "borrowed_at": None, "due_at": "2026-11-27T00:00:00+07:00",
    }  # fmt: skip
    [assessed] = [e for e in events if e["type"] == "library.fine.assessed"]
    assert assessed["data"]["fine_id"] == str(fine_id)
    assert assessed["data"]["amount"] == "15000"


def test_a_second_pass_over_unchanged_tables_publishes_nothing(desk: Desk, library: Library) -> None:
    desk.member(NIM)
    _lend(desk)
    first = library.run_pass()
    assert library.run_pass().published == 0
    assert len(library.events(at_least=first.published)) == first.published


def test_a_renewal_and_a_payment_are_both_seen(desk: Desk, library: Library) -> None:
    desk.member(NIM)
    loan_id = _lend(desk)
    fine_id = desk.overdue_fine(NIM, 20000, "B0007", date(2026, 12, 1))
    first = library.run_pass()
    desk.renew(loan_id, date(2026, 12, 11))
    desk.pay(fine_id, 5000)
    second = library.run_pass()
    events = library.events(at_least=first.published + second.published)[first.published :]
    assert [e["type"] for e in events] == ["library.loan.renewed", "library.fine.paid"]
    renewed, paid = events
    assert renewed["data"]["due_at"] == "2026-12-11T00:00:00+07:00"
    assert renewed["sequence"] == "1"
    assert paid["data"] == {"fine_id": str(fine_id), "library_id": "central", "amount": "5000"}
    assert paid["sequence"] == "5000"


def test_a_return_is_published_with_the_time_of_the_return(desk: Desk, library: Library) -> None:
    desk.member(NIM)
    loan_id = _lend(desk)
    first = library.run_pass()
    desk.give_back(loan_id, date.today())
    second = library.run_pass()
    [returned] = library.events(at_least=first.published + second.published)[first.published :]
    assert returned["type"] == "library.loan.returned"
    assert returned["data"]["loan_id"] == str(loan_id)


def test_a_deleted_fine_becomes_waived(desk: Desk, library: Library) -> None:
    desk.member(NIM)
    fine_id = desk.overdue_fine(NIM, 15000, "B0001", date(2026, 12, 1))
    first = library.run_pass()
    desk.forgive(fine_id)
    second = library.run_pass()
    [waived] = library.events(at_least=first.published + second.published)[first.published :]
    assert waived["type"] == "library.fine.waived"
    assert waived["data"] == {"fine_id": str(fine_id), "library_id": "central"}


def test_lost_state_is_answered_with_a_snapshot_of_every_member(desk: Desk, library: Library, tmp_path) -> None:
    desk.member(NIM)
    loan_id = _lend(desk)
    first = library.run_pass()
    desk.give_back(loan_id, date.today())  # happens while the connector's state is gone
    second = library.run_pass(state_url=f"sqlite:///{tmp_path / 'new-state.db'}")
    events = library.events(at_least=first.published + second.published)
    snapshots = [e for e in events if e["type"] == "library.patron.snapshot"]
    assert len(snapshots) == 2 and snapshots[0]["id"] != snapshots[1]["id"]
    assert snapshots[-1]["data"]["open_loans"] == []


def test_a_row_that_cannot_be_mapped_is_counted_and_the_rest_published(desk: Desk, library: Library) -> None:
    desk.member(NIM)
    _lend(desk)
    desk._run("INSERT INTO loan (item_code, member_id, loan_date, due_date, is_lent, is_return)"
              " VALUES (NULL, %s, '2026-11-20', '2026-11-27', 1, 0)", NIM)  # fmt: skip
    result = library.run_pass()
    assert result.unmappable == 1
    assert _types(library.events(at_least=result.published))["library.loan.opened"] == 1


def test_the_student_id_can_come_from_a_member_column(desk: Desk, library: Library) -> None:
    desk.member("M-0001", member_notes="2019100789")
    result = library.run_pass(student_id_column="member_notes")
    [linked] = [e for e in library.events(at_least=result.published) if e["type"] == "library.patron.linked"]
    assert linked["data"] == {"patron_id": "M-0001", "library_id": "central", "student_id": "2019100789"}


def test_the_connector_cannot_write_to_the_slims_database(slims_url: str) -> None:
    engine = engine_for(slims_url)
    with engine.connect() as conn, pytest.raises(sqlalchemy.exc.OperationalError, match="READ ONLY"):
        conn.execute(text("INSERT INTO fines (fines_date, member_id, debet) VALUES ('2026-12-01', 'x', 1)"))
    engine.dispose()
