"""G5: any permutation and repetition of an entity's events yields the same state."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

from hypothesis import given, settings
from hypothesis import strategies as st

from clearance.domain.folds import (
    apply_application,
    apply_deposit,
    apply_fine,
    apply_loan,
)
from clearance.domain.states import (
    Application,
    Deposit,
    Fine,
    Loan,
    LoanStatus,
)
from schemas.registry import InboundEvent, parse_event

WIB = timezone(timedelta(hours=7))
BASE = datetime(2026, 9, 1, 8, 0, tzinfo=WIB)


def _event(event_type: str, data: dict, hours: int, event_id: str, sequence: int | None = None) -> InboundEvent:
    envelope = {
        "specversion": "1.0", "id": event_id, "source": "urn:library:central", "type": event_type,
        "time": (BASE + timedelta(hours=hours)).isoformat(), "data": data,
    }  # fmt: skip
    if sequence is not None:
        envelope["sequence"] = str(sequence)
    return parse_event(json.dumps(envelope).encode())


def _dedupe(events: list[InboundEvent]) -> list[InboundEvent]:
    """What the inbox lets through: each (source, id) once, in arrival order."""
    seen, kept = set(), []
    for event in events:
        if event.key not in seen:
            seen.add(event.key)
            kept.append(event)
    return kept


def _loan_events(draw: st.DrawFn) -> list[InboundEvent]:
    events = [
        _event(
            "library.loan.opened",
            {"loan_id": "L1", "library_id": "central", "patron_id": "P1", "item_id": "B1", "title": "Kalkulus",
             "borrowed_at": BASE.isoformat(), "due_at": (BASE + timedelta(days=14)).isoformat()},
            draw(st.integers(0, 5)), "opened", draw(st.none() | st.integers(0, 3)),
        )
    ]  # fmt: skip
    for i in range(draw(st.integers(0, 3))):
        due = (BASE + timedelta(days=20 + i)).isoformat()
        events.append(
            _event("library.loan.renewed", {"loan_id": "L1", "library_id": "central", "due_at": due},
                   draw(st.integers(0, 8)), f"renewed-{i}", draw(st.none() | st.integers(0, 3)))
        )  # fmt: skip
    if draw(st.booleans()):
        events.append(
            _event("library.loan.lost", {"loan_id": "L1", "library_id": "central"}, draw(st.integers(0, 8)), "lost")
        )
    if draw(st.booleans()):
        returned = {"loan_id": "L1", "library_id": "central", "returned_at": BASE.isoformat()}
        events.append(_event("library.loan.returned", returned, draw(st.integers(0, 8)), "returned"))
    return events


@st.composite
def loan_histories(draw: st.DrawFn) -> tuple[list[InboundEvent], list[InboundEvent]]:
    """A loan's events, and the same events shuffled with repeats, as a broker may deliver them."""
    events = _loan_events(draw)
    delivered = draw(st.permutations(events + draw(st.lists(st.sampled_from(events), max_size=4))))
    return events, delivered


def _fold_loan(events: list[InboundEvent]) -> Loan:
    loan = Loan("central", "L1")
    for event in events:
        loan = apply_loan(loan, event.envelope, event.data)
    return loan


@settings(max_examples=200, deadline=None)
@given(loan_histories())
def test_any_delivery_order_and_repetition_of_a_loans_events_gives_one_state(history) -> None:
    events, delivered = history
    in_order = sorted(events, key=lambda e: (e.envelope.time, int(e.envelope.sequence or -1)))
    assert _fold_loan(_dedupe(delivered)) == _fold_loan(_dedupe(events)) == _fold_loan(_dedupe(list(reversed(events))))
    assert _fold_loan(_dedupe(delivered)).status == _fold_loan(in_order).status


@settings(max_examples=200, deadline=None)
@given(loan_histories())
def test_applying_a_loan_event_twice_changes_nothing(history) -> None:
    _, delivered = history
    doubled = [e for event in delivered for e in (event, event)]
    assert _fold_loan(doubled) == _fold_loan(_dedupe(delivered))


def test_a_late_opened_never_resurrects_a_returned_loan() -> None:
    returned = _event("library.loan.returned", {"loan_id": "L1", "library_id": "central",
                      "returned_at": BASE.isoformat()}, 5, "r")  # fmt: skip
    opened = _event("library.loan.opened", {"loan_id": "L1", "library_id": "central", "patron_id": "P1",
                    "item_id": "B1", "title": "T", "borrowed_at": BASE.isoformat(),
                    "due_at": BASE.isoformat()}, 1, "o")  # fmt: skip
    loan = _fold_loan([returned, opened])
    assert loan.status is LoanStatus.RETURNED and loan.patron_id == "P1" and not loan.outstanding


def test_events_sharing_a_time_are_ordered_by_their_sequence_as_numbers() -> None:
    lost = _event("library.loan.lost", {"loan_id": "L1", "library_id": "central"}, 3, "a", sequence=10)
    returned = _event("library.loan.returned", {"loan_id": "L1", "library_id": "central",
                      "returned_at": BASE.isoformat()}, 3, "b", sequence=9)  # fmt: skip
    assert _fold_loan([lost, returned]).status is LoanStatus.LOST
    assert _fold_loan([returned, lost]).status is LoanStatus.LOST


def test_a_return_at_the_same_instant_as_the_opening_closes_the_loan() -> None:
    opened = _event("library.loan.opened", {"loan_id": "L1", "library_id": "central", "patron_id": "P1",
                    "item_id": "B1", "title": "T", "borrowed_at": BASE.isoformat(),
                    "due_at": BASE.isoformat()}, 2, "z-opened")  # fmt: skip
    returned = _event("library.loan.returned", {"loan_id": "L1", "library_id": "central",
                      "returned_at": BASE.isoformat()}, 2, "a-returned")  # fmt: skip
    assert _fold_loan([returned, opened]).status is LoanStatus.RETURNED


@st.composite
def fine_histories(draw: st.DrawFn) -> list[InboundEvent]:
    events = []
    for i in range(draw(st.integers(1, 2))):
        amount = str(draw(st.integers(1, 9)) * 10000)
        assessed = {"fine_id": "F1", "library_id": "central", "patron_id": "P1", "amount": amount,
                    "currency": "IDR", "reason": "late"}  # fmt: skip
        events.append(_event("library.fine.assessed", assessed, draw(st.integers(0, 5)), f"assessed-{i}"))
    for i in range(draw(st.integers(0, 3))):
        amount = str(draw(st.integers(1, 5)) * 5000)
        events.append(_event("library.fine.paid", {"fine_id": "F1", "library_id": "central", "amount": amount},
                             draw(st.integers(0, 9)), f"paid-{i}"))  # fmt: skip
    if draw(st.booleans()):
        events.append(_event("library.fine.waived", {"fine_id": "F1", "library_id": "central"},
                             draw(st.integers(0, 9)), "waived"))  # fmt: skip
    return events


def _fold_fine(events: list[InboundEvent]) -> Fine:
    fine = Fine("central", "F1")
    for event in events:
        fine = apply_fine(fine, event.envelope, event.data)
    return fine


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_a_fines_outstanding_amount_does_not_depend_on_delivery_order(data: st.DataObject) -> None:
    events = data.draw(fine_histories())
    delivered = data.draw(st.permutations(events + data.draw(st.lists(st.sampled_from(events), max_size=3))))
    assert _fold_fine(_dedupe(delivered)) == _fold_fine(events)


def test_partial_payments_add_up_and_a_paid_fine_is_not_reopened_by_a_late_assessment() -> None:
    assessed = _event("library.fine.assessed", {"fine_id": "F1", "library_id": "central", "patron_id": "P1",
                      "amount": "30000", "currency": "IDR", "reason": "late"}, 1, "a")  # fmt: skip
    payments = [
        _event("library.fine.paid", {"fine_id": "F1", "library_id": "central", "amount": "10000"}, 2 + i, f"p{i}")
        for i in range(3)
    ]
    assert _fold_fine([*payments, assessed]).outstanding == 0
    assert _fold_fine([assessed, *payments[:2]]).outstanding == 10000


def test_payments_are_what_the_inbox_must_deduplicate() -> None:
    """Payments accumulate, so the projection alone is not idempotent: the inbox drops repeats before it."""
    paid = _event("library.fine.paid", {"fine_id": "F1", "library_id": "central", "amount": "5000"}, 2, "p")
    assert _fold_fine([paid, paid]).paid == 10000
    assert _fold_fine(_dedupe([paid, paid])).paid == 5000


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_a_deposits_state_does_not_depend_on_delivery_order(data: st.DataObject) -> None:
    kinds = data.draw(st.lists(st.sampled_from(["submitted", "accepted", "rejected"]), min_size=1, max_size=5))
    events = []
    for i, kind in enumerate(kinds):
        payload = {"deposit_id": "D1", "student_id": "S1"}
        extra = {"submitted": {"title": "T", "degree_level": "S1"}, "accepted": {}, "rejected": {"reason": "x"}}
        payload |= extra[kind]
        events.append(_event(f"thesis.deposit.{kind}", payload, data.draw(st.integers(0, 6)), f"{kind}-{i}"))
    delivered = data.draw(st.permutations(events))
    assert _fold_deposit(delivered) == _fold_deposit(events)


def _fold_deposit(events: list[InboundEvent]) -> Deposit:
    deposit = Deposit("D1", "S1")
    for event in events:
        deposit = apply_deposit(deposit, event.envelope, event.data)
    return deposit


@settings(max_examples=100, deadline=None)
@given(st.permutations(["submitted", "withdrawn", "submitted-again"]))
def test_a_withdrawal_is_final_whatever_order_the_registrar_events_arrive_in(order: list[str]) -> None:
    by_name = {
        "submitted": _event("graduation.application.submitted", {"application_id": "A1", "student_id": "S1",
                            "full_name": "Siti", "faculty": "F", "program": "P", "degree_level": "S1",
                            "graduation_period": "2026-2"}, 1, "s1"),
        "submitted-again": _event("graduation.application.submitted", {"application_id": "A1", "student_id": "S1",
                                  "full_name": "Siti R.", "faculty": "F", "program": "P", "degree_level": "S1",
                                  "graduation_period": "2026-2"}, 5, "s2"),
        "withdrawn": _event("graduation.application.withdrawn", {"application_id": "A1", "student_id": "S1"}, 3, "w"),
    }  # fmt: skip
    application = Application("A1", "S1")
    for name in order:
        event = by_name[name]
        application = apply_application(application, event.envelope, event.data)
    assert application.withdrawn and application.full_name == "Siti R."


@settings(max_examples=100, deadline=None)
@given(st.permutations(["submitted", "withdrawn-early", "withdrawn-late"]))
def test_of_two_withdrawals_the_later_stamped_one_gives_the_reason_whatever_the_arrival_order(order: list[str]) -> None:
    by_name = {
        "submitted": _event("graduation.application.submitted", {"application_id": "A1", "student_id": "S1",
                            "full_name": "Siti", "faculty": "F", "program": "P", "degree_level": "S1",
                            "graduation_period": "2026-2"}, 1, "s1"),
        "withdrawn-early": _event("graduation.application.withdrawn", {"application_id": "A1", "student_id": "S1",
                                  "reason": "moved abroad"}, 3, "w1"),
        "withdrawn-late": _event("graduation.application.withdrawn", {"application_id": "A1", "student_id": "S1",
                                 "reason": "postponed to 2027-1"}, 4, "w2"),
    }  # fmt: skip
    application = Application("A1", "S1")
    for name in order:
        event = by_name[name]
        application = apply_application(application, event.envelope, event.data)
    assert application.withdrawn and application.withdrawn_reason == "postponed to 2027-1"
