"""The pure mapping from SLiMS rows and the last digest to contract events (no database, no broker)."""

from __future__ import annotations

import itertools
import json
import re
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from clearance.projections import Loan, apply_loan, event_stamp
from connectors.slims.events import Context
from connectors.slims.mapping import Plan, plan_member, student_id_for
from connectors.slims.rows import FineRow, LoanNow, MemberView, OpenLoan
from schemas.registry import Topic, parse_event

JAKARTA = ZoneInfo("Asia/Jakarta")
NOW = datetime(2026, 12, 7, 14, 0, 0, tzinfo=JAKARTA)


def ctx(now: datetime = NOW) -> Context:
    return Context("central", "IDR", JAKARTA, now, "gen-1")


def loan(
    loan_id: int = 7,
    *,
    renewed: int = 0,
    due: date = date(2026, 12, 14),
    title: str | None = "Mekanika Fluida",
    input_date: datetime | None = datetime(2026, 12, 1, 10, 30),
) -> OpenLoan:
    return OpenLoan(loan_id, "2019100123", "B0001", date(2026, 12, 1), due, renewed, input_date, title)


def fine(fines_id: int = 3, debet: int = 15000, credit: int = 0, day: date = date(2026, 12, 5)) -> FineRow:
    return FineRow(fines_id, "2019100123", day, debet, credit, "Overdue fines for item B0001")


def view(*, loans: list[OpenLoan] = (), fines: list[FineRow] = (), left: dict | None = None) -> MemberView:  # type: ignore[assignment]
    return MemberView("2019100123", known=True, student_id="2019100123", registered=date(2019, 8, 1),
                      open_loans=list(loans), fines=list(fines), left=left or {})  # fmt: skip


def types(plan: Plan) -> list[str]:
    return [o.event["type"] for o in plan.events]


def settled(v: MemberView) -> dict:
    """The digest after a first pass over ``v``."""
    digest = plan_member(v, None, ctx(NOW - timedelta(hours=1))).digest
    assert digest is not None
    return digest


def test_every_event_passes_the_contract_and_is_keyed_by_the_patron() -> None:
    plan = plan_member(view(loans=[loan(renewed=1)], fines=[fine(credit=5000)]), None, ctx())
    for out in plan.events:
        parsed = parse_event(json.dumps(out.event).encode(), Topic.CIRCULATION)
        assert parsed.envelope.source == "urn:library:central"
        assert out.key == out.event["subject"] == "2019100123"


def test_first_sight_links_the_student_opens_the_loan_and_states_a_snapshot_last() -> None:
    plan = plan_member(view(loans=[loan()], fines=[fine()]), None, ctx())
    assert types(plan) == ["library.patron.linked", "library.loan.opened", "library.fine.assessed",
                           "library.patron.snapshot"]  # fmt: skip
    opened = plan.events[1].event
    assert opened["data"]["title"] == "Mekanika Fluida"
    assert opened["data"]["due_at"] == "2026-12-14T00:00:00+07:00"
    assert opened["time"] == "2026-12-01T10:30:00+07:00"
    snapshot = plan.events[-1].event["data"]
    assert snapshot["as_of"] == "2026-12-07T14:00:00+07:00"
    assert [x["loan_id"] for x in snapshot["open_loans"]] == ["7"]
    assert snapshot["fine_balance"] == "15000"
    assert all(datetime.fromisoformat(o.event["time"]) < NOW for o in plan.events[:-1])


def test_an_unchanged_member_publishes_nothing() -> None:
    v = view(loans=[loan()], fines=[fine()])
    plan = plan_member(v, settled(v), ctx())
    assert plan.events == []
    assert plan.digest == settled(v)


def test_a_renewal_moves_the_due_date_with_a_growing_sequence() -> None:
    digest = settled(view(loans=[loan()]))
    plan = plan_member(view(loans=[loan(renewed=1, due=date(2026, 12, 21))]), digest, ctx())
    assert types(plan) == ["library.loan.renewed"]
    renewed = plan.events[0].event
    assert renewed["data"]["due_at"] == "2026-12-21T00:00:00+07:00"
    assert renewed["sequence"] == "1"
    assert renewed["time"] == "2026-12-07T14:00:00+07:00"
    again = plan_member(view(loans=[loan(renewed=2, due=date(2026, 12, 28))]), plan.digest, ctx(NOW + timedelta(1)))
    assert again.events[0].event["sequence"] == "2"
    assert again.events[0].event["id"] != renewed["id"]


def test_a_renewal_read_again_keeps_its_id() -> None:
    digest = settled(view(loans=[loan()]))
    renewed = view(loans=[loan(renewed=1, due=date(2026, 12, 21))])
    first = plan_member(renewed, digest, ctx()).events[0].event
    repeat = plan_member(renewed, digest, ctx(NOW + timedelta(minutes=5))).events[0].event
    assert first["id"] == repeat["id"]


def test_the_last_of_opened_and_renewals_wins_in_any_arrival_order() -> None:
    digest = settled(view(loans=[loan()]))
    opened = plan_member(view(loans=[loan()]), None, ctx(NOW - timedelta(hours=1))).events[1]
    first = plan_member(view(loans=[loan(renewed=1, due=date(2026, 12, 21))]), digest, ctx())
    second = plan_member(view(loans=[loan(renewed=2, due=date(2026, 12, 28))]), first.digest, ctx(NOW))
    events = [opened.event, first.events[0].event, second.events[0].event]
    for order in itertools.permutations(events):
        state = Loan("central", "7")
        for event in order:
            parsed = parse_event(json.dumps(event).encode())
            state = apply_loan(state, parsed.envelope, parsed.data)
        assert state.due_at == datetime(2026, 12, 28, tzinfo=JAKARTA)
    stamps = [event_stamp(parse_event(json.dumps(e).encode()).envelope) for e in events]
    assert stamps == sorted(stamps)


def test_a_return_is_stamped_by_its_last_update() -> None:
    digest = settled(view(loans=[loan()]))
    row = LoanNow(7, "2019100123", 1, 1, date(2026, 12, 1), date(2026, 12, 7), datetime(2026, 12, 1, 10, 30),
                  datetime(2026, 12, 7, 9, 15))  # fmt: skip
    plan = plan_member(view(left={7: row}), digest, ctx())
    assert types(plan) == ["library.loan.returned"]
    assert plan.events[0].event["data"]["returned_at"] == "2026-12-07T09:15:00+07:00"
    assert plan.digest is not None and plan.digest["loans"] == {}


def test_a_loan_gone_without_a_return_is_settled_by_a_snapshot() -> None:
    digest = settled(view(loans=[loan()]))
    plan = plan_member(view(left={7: None}), digest, ctx())
    assert types(plan) == ["library.patron.snapshot"]
    assert plan.events[0].event["data"]["open_loans"] == []


def test_a_new_fine_is_assessed_at_its_date_for_its_debet() -> None:
    digest = settled(view())
    plan = plan_member(view(fines=[fine()]), digest, ctx())
    assert types(plan) == ["library.fine.assessed"]
    assessed = plan.events[0].event
    assert (assessed["data"]["amount"], assessed["data"]["currency"]) == ("15000", "IDR")


def test_a_payment_publishes_the_increase_of_credit_with_the_cumulative_credit_as_sequence() -> None:
    digest = settled(view(fines=[fine()]))
    first = plan_member(view(fines=[fine(credit=5000)]), digest, ctx())
    second = plan_member(view(fines=[fine(credit=15000)]), first.digest, ctx(NOW + timedelta(minutes=1)))
    assert [e.event["data"]["amount"] for e in first.events + second.events] == ["5000", "10000"]
    assert [e.event["sequence"] for e in first.events + second.events] == ["5000", "15000"]


def test_a_deleted_fine_row_is_waived() -> None:
    digest = settled(view(fines=[fine()]))
    plan = plan_member(view(), digest, ctx())
    assert types(plan) == ["library.fine.waived"]
    assert plan.events[0].event["data"]["fine_id"] == "3"


def test_a_debet_lowered_to_the_credit_is_a_waiver() -> None:
    digest = settled(view(fines=[fine(credit=5000)]))
    plan = plan_member(view(fines=[fine(debet=5000, credit=5000)]), digest, ctx())
    assert types(plan) == ["library.fine.waived"]


def test_a_raised_debet_is_assessed_again_and_reconciled_by_a_snapshot() -> None:
    digest = settled(view(fines=[fine()]))
    plan = plan_member(view(fines=[fine(debet=20000)]), digest, ctx())
    assert types(plan) == ["library.fine.assessed", "library.patron.snapshot"]
    assert plan.events[0].event["data"]["amount"] == "20000"
    assert plan.events[1].event["data"]["fine_balance"] == "20000"


def test_a_credit_only_row_lowers_the_balance_through_a_snapshot() -> None:
    digest = settled(view(fines=[fine()]))
    credit_row = FineRow(4, "2019100123", date(2026, 12, 6), 0, 5000, "Payment")
    plan = plan_member(view(fines=[fine(), credit_row]), digest, ctx())
    assert types(plan) == ["library.patron.snapshot"]
    assert plan.events[0].event["data"]["fine_balance"] == "10000"


def test_a_fact_after_a_snapshot_sorts_after_it_even_when_its_row_date_is_earlier() -> None:
    morning = datetime(2026, 12, 7, 9, 0, tzinfo=JAKARTA)
    digest = plan_member(view(), None, ctx(morning)).digest
    plan = plan_member(view(fines=[fine(day=date(2026, 12, 7))]), digest, ctx())
    assert datetime.fromisoformat(plan.events[0].event["time"]) > morning


def test_no_event_is_stamped_after_the_pass() -> None:
    tomorrow = datetime(2026, 12, 8, 8, 0)
    plan = plan_member(view(loans=[loan(input_date=tomorrow)]), None, ctx())
    assert all(datetime.fromisoformat(o.event["time"]) <= NOW for o in plan.events)


def test_a_loan_that_cannot_be_mapped_is_reported_and_the_rest_go_on() -> None:
    bad = OpenLoan(8, "2019100123", "B0002", date(2026, 12, 1), "0000-00-00", 0, None, "X")  # type: ignore[arg-type]
    plan = plan_member(view(loans=[loan(), bad]), None, ctx())
    assert plan.unmappable == ["loan 8: due_date '0000-00-00' is not a date"]
    assert [x["loan_id"] for x in plan.events[-1].event["data"]["open_loans"]] == ["7"]


def test_a_loan_without_a_catalogue_title_is_named_by_its_item_code() -> None:
    plan = plan_member(view(loans=[loan(title=None)]), None, ctx())
    assert plan.events[1].event["data"]["title"] == "item B0001"


def test_the_student_id_comes_from_a_column_a_pattern_or_the_member_id() -> None:
    assert student_id_for("2019100123", None, None) == "2019100123"
    assert student_id_for("M-2019100123", None, re.compile(r"M-(\d+)")) == "2019100123"
    assert student_id_for("STAFF01", None, re.compile(r"M-(\d+)")) is None
    assert student_id_for("M-1", " 2019100123 ", None) == "2019100123"


def test_a_checkout_entered_on_another_day_is_borrowed_on_its_loan_date() -> None:
    backdated = loan(input_date=datetime(2026, 12, 3, 8, 0))  # loan_date 2026-12-01
    opened = plan_member(view(loans=[backdated]), None, ctx()).events[1].event
    assert opened["data"]["borrowed_at"] == "2026-12-01T00:00:00+07:00"


def test_a_published_loan_whose_row_became_unmappable_is_not_taken_for_returned() -> None:
    digest = settled(view(loans=[loan()]))
    spoilt = OpenLoan(7, "2019100123", "B0001", date(2026, 12, 1), "0000-00-00", 0, None, "X")  # type: ignore[arg-type]
    plan = plan_member(view(loans=[spoilt]), digest, ctx())
    assert plan.events == []
    assert plan.unmappable == ["loan 7: due_date '0000-00-00' is not a date"]
