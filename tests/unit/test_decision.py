"""The decision (G2, G4, G9): every rule, every reason, with nothing but state and rules."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from clearance.config.policy_file import parse_policy
from clearance.domain.decision import StudentState, decide, evaluate
from clearance.domain.policy import Rules
from clearance.domain.states import (
    Deposit,
    DepositState,
    Fine,
    Loan,
    LoanStatus,
    Training,
)
from schemas.outbound import Status

WIB = timezone(timedelta(hours=7))
T = datetime(2026, 10, 1, tzinfo=WIB)
RULES = Rules()
ACCEPTED = Deposit("DEP-1", "S1", state=DepositState.ACCEPTED, state_stamp="2")


def _loan(status: LoanStatus = LoanStatus.OPEN, library: str = "fk-teknik", **kw) -> Loan:
    return Loan(library, "L1", patron_id="P1", item_id="B0001234", title="Mekanika Fluida",
                borrowed_at=T - timedelta(days=30), due_at=T, status=status, **kw)  # fmt: skip


def _fine(library: str, amount: str, paid: str = "0", waived: bool = False) -> Fine:
    return Fine(library, f"F-{library}-{amount}", patron_id="P1", amount=Decimal(amount), currency="IDR",
                paid=Decimal(paid), waived=waived, assessed_stamp="1")  # fmt: skip


def test_nothing_outstanding_and_an_accepted_deposit_clears_with_its_basis() -> None:
    decision = decide(StudentState(deposits=(ACCEPTED,)), RULES, "S1")
    assert decision.status is Status.CLEARED
    assert decision.basis is not None and decision.basis.deposit_id == "DEP-1"


def test_an_outstanding_loan_is_reported_with_library_item_title_and_due_date() -> None:
    [reason] = decide(StudentState(loans=(_loan(),), deposits=(ACCEPTED,)), RULES, "S1").reasons
    dumped = reason.model_dump(mode="json", exclude_none=True)
    assert dumped["code"] == "OUTSTANDING_LOAN"
    assert (dumped["library_id"], dumped["item_id"], dumped["title"]) == ("fk-teknik", "B0001234", "Mekanika Fluida")
    assert dumped["due_at"] == "2026-10-01T00:00:00+07:00"


def test_a_lost_item_blocks_with_its_own_code() -> None:
    [reason] = decide(StudentState(loans=(_loan(LoanStatus.LOST),), deposits=(ACCEPTED,)), RULES, "S1").reasons
    assert reason.code == "LOST_ITEM"


def test_an_interlibrary_loan_blocks_and_says_so() -> None:
    [reason] = decide(StudentState(loans=(_loan(interlibrary=True),), deposits=(ACCEPTED,)), RULES, "S1").reasons
    assert reason.interlibrary is True


def test_unpaid_fines_are_reported_per_library() -> None:
    state = StudentState(fines=(_fine("central", "15000"), _fine("fk-mipa", "4000", paid="1000")), deposits=(ACCEPTED,))
    reasons = {r.library_id: r for r in decide(state, RULES, "S1").reasons}
    assert (reasons["central"].amount, reasons["central"].currency) == ("15000", "IDR")
    assert reasons["fk-mipa"].amount == "3000"


def test_fines_at_or_under_the_threshold_do_not_block_and_over_it_do() -> None:
    rules = Rules(fine_threshold=Decimal("5000"))
    assert decide(StudentState(fines=(_fine("central", "5000"),), deposits=(ACCEPTED,)), rules, "S1").cleared
    assert not decide(StudentState(fines=(_fine("central", "5001"),), deposits=(ACCEPTED,)), rules, "S1").cleared


def test_paid_and_waived_fines_owe_nothing() -> None:
    state = StudentState(fines=(_fine("central", "5000", paid="5000"), _fine("fk", "9000", waived=True)),
                         deposits=(ACCEPTED,))  # fmt: skip
    assert decide(state, RULES, "S1").cleared


def test_each_deposit_state_has_its_reason() -> None:
    submitted = Deposit("D1", "S1", state=DepositState.SUBMITTED, state_stamp="1")
    rejected = Deposit("D1", "S1", state=DepositState.REJECTED, state_stamp="1", rejection_reason="format")
    assert [r.code for r in decide(StudentState(), RULES, "S1").reasons] == ["THESIS_NOT_DEPOSITED"]
    [not_accepted] = decide(StudentState(deposits=(submitted,)), RULES, "S1").reasons
    assert (not_accepted.code, not_accepted.deposit_state) == ("THESIS_NOT_ACCEPTED", "submitted")
    [refused] = decide(StudentState(deposits=(rejected,)), RULES, "S1").reasons
    assert (refused.code, refused.deposit_state, refused.detail) == ("THESIS_REJECTED", "rejected", "format")


def test_an_accepted_deposit_wins_over_another_rejected_later() -> None:
    rejected = Deposit("D2", "S1", state=DepositState.REJECTED, state_stamp="9")
    assert decide(StudentState(deposits=(ACCEPTED, rejected)), RULES, "S1").cleared


def test_degree_levels_without_a_deposit_requirement_clear_without_one() -> None:
    assert decide(StudentState(), RULES, "profesi").cleared


def test_training_blocks_only_where_the_policy_asks_for_it() -> None:
    rules = parse_policy("[default]\ntraining = true\n").default
    [reason] = decide(StudentState(deposits=(ACCEPTED,)), rules, "S1").reasons
    assert reason.code == "TRAINING_NOT_COMPLETED"
    trained = StudentState(deposits=(ACCEPTED,), trainings=(Training("central", "P1", "information-literacy"),))
    assert decide(trained, rules, "S1").cleared


def test_every_blocking_reason_is_reported_at_once() -> None:
    state = StudentState(loans=(_loan(), _loan(LoanStatus.LOST, library="central")), fines=(_fine("central", "1"),))
    codes = sorted(r.code.value for r in decide(state, RULES, "S1").reasons)
    assert codes == ["LOST_ITEM", "OUTSTANDING_LOAN", "THESIS_NOT_DEPOSITED", "UNPAID_FINES"]


@settings(max_examples=200, deadline=None)
@given(
    open_loans=st.integers(0, 2), lost=st.integers(0, 1), owed=st.integers(0, 3),
    deposit=st.sampled_from([None, "submitted", "accepted", "rejected"]),
)  # fmt: skip
def test_a_student_clears_exactly_when_no_rule_is_broken(open_loans: int, lost: int, owed: int, deposit) -> None:
    loans = tuple(Loan("c", f"L{i}", patron_id="P", status=LoanStatus.OPEN) for i in range(open_loans))
    loans += tuple(Loan("c", f"X{i}", patron_id="P", status=LoanStatus.LOST) for i in range(lost))
    fines = tuple(Fine("c", f"F{i}", patron_id="P", amount=Decimal(1000), currency="IDR") for i in range(owed))
    deposits = () if deposit is None else (Deposit("D", "S", state=DepositState(deposit), state_stamp="1"),)
    decision = decide(StudentState(loans=loans, fines=fines, deposits=deposits), RULES, "S1")
    assert decision.cleared == (open_loans + lost + owed == 0 and deposit == "accepted")
    assert decision.cleared == (decision.reasons == ())


def test_withdrawal_before_issuance_gives_no_certificate_and_after_it_a_revocation() -> None:
    common = {"submitted": True, "withdrawn": True, "degree_level": "S1", "state": StudentState(), "rules": RULES}
    before = evaluate(status=Status.BLOCKED, issued_at=None, **common)
    after = evaluate(status=Status.CLEARED, issued_at=T, **common)
    assert (before.status, before.revoke, before.issue) == (Status.WITHDRAWN, None, None)
    assert (after.status, after.revoke) == (Status.WITHDRAWN, "application withdrawn")


def test_a_loan_after_issuance_revokes_only_where_the_policy_says_so() -> None:
    late = Loan("c", "L9", patron_id="P", borrowed_at=T + timedelta(days=1), status=LoanStatus.OPEN)
    state = StudentState(loans=(late,), deposits=(ACCEPTED,))
    common = {"submitted": True, "withdrawn": False, "degree_level": "S1", "state": state, "issued_at": T}
    kept = evaluate(status=Status.CLEARED, rules=RULES, **common)
    revoked = evaluate(status=Status.CLEARED, rules=Rules(revoke_on_loan_after_issuance=True), **common)
    assert kept.status is Status.CLEARED and kept.revoke is None
    assert revoked.status is Status.REVOKED and [r.code for r in revoked.reasons] == ["LOAN_AFTER_ISSUANCE"]


def test_withdrawn_and_revoked_applications_are_final() -> None:
    for final in (Status.WITHDRAWN, Status.REVOKED):
        outcome = evaluate(status=final, submitted=True, withdrawn=False, degree_level="S1", issued_at=None,
                           state=StudentState(deposits=(ACCEPTED,)), rules=RULES)  # fmt: skip
        assert outcome.status is final and outcome.issue is None
