"""Time bounds (G12): which of an event's timestamps lie beyond now plus the clock skew."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from timeline import as_event

from clearance.demo.eventfactory import EventFactory
from clearance.domain.admission import future_stamps

JAKARTA = timezone(timedelta(hours=7))
NOW = datetime(2026, 12, 7, 9, 0, tzinfo=JAKARTA)
SKEW = timedelta(minutes=5)
library = EventFactory("urn:library:central", lambda: NOW)


def _snapshot(as_of: str, borrowed: list[str], time: datetime = NOW) -> dict:
    loans = [{"loan_id": f"L{i}", "item_id": f"B{i}", "title": "Judul", "borrowed_at": when,
              "due_at": "2999-01-01T00:00:00+07:00"} for i, when in enumerate(borrowed)]  # fmt: skip
    data = {"patron_id": "P1", "library_id": "central", "as_of": as_of, "open_loans": loans,
            "fine_balance": "0", "currency": "IDR"}  # fmt: skip
    return library.event("library.patron.snapshot", "P1", data, time=time)


def test_an_event_of_now_has_no_stamp_in_the_future() -> None:
    event = as_event(_snapshot("2026-12-07T08:00:00+07:00", ["2026-12-01T08:00:00+07:00"]))
    assert future_stamps(event, NOW, SKEW) == []


def test_a_stamp_within_the_clock_skew_is_not_in_the_future() -> None:
    event = as_event(_snapshot("2026-12-07T09:04:00+07:00", []))
    assert future_stamps(event, NOW, SKEW) == []


def test_every_late_stamp_is_named_by_its_path_in_field_order() -> None:
    event = as_event(_snapshot(
        "2027-01-01T00:00:00+07:00",
        ["2026-12-01T08:00:00+07:00", "2030-01-01T00:00:00+07:00", "2031-01-01T00:00:00+07:00"],
        time=datetime(2028, 1, 1, tzinfo=JAKARTA),
    ))  # fmt: skip
    assert future_stamps(event, NOW, SKEW) == [
        "time=2028-01-01T00:00:00+07:00",
        "data.as_of=2027-01-01T00:00:00+07:00",
        "data.open_loans[1].borrowed_at=2030-01-01T00:00:00+07:00",
        "data.open_loans[2].borrowed_at=2031-01-01T00:00:00+07:00",
    ]


def test_a_due_date_names_the_future_by_nature_and_is_not_bounded() -> None:
    loan = library.loan_opened("central", "L1", "P1", item_id="B1", title="Mekanika Fluida",
                               borrowed_at=NOW, due_at="2999-01-01T00:00:00+07:00")  # fmt: skip
    assert future_stamps(as_event(loan), NOW, SKEW) == []
