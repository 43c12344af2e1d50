"""The FOLIO bridge's pure mapping: FOLIO's records (shaped as FOLIO's schemas) in, contract events out."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from folio_records import LOST_ITEM_FEE, TENANT, LoanStory, balance_changed, domain_event, user_created, user_record

from connectors.folio.contract import BridgeConfig, Mapped
from connectors.folio.fines import map_balance_event
from connectors.folio.mapping import map_loan_event, map_user_event
from connectors.folio.records import UnmappableRecord
from connectors.folio.snapshot import restatement
from schemas.registry import Topic, parse_event

CONFIG = BridgeConfig(library_id="central", tenant=TENANT, currency="IDR")
NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
T0 = datetime(2026, 10, 1, 2, 0, tzinfo=UTC)


class PureBridge:
    """The mapping functions over a dict standing for the StateStore, every event checked against the contract."""

    def __init__(self, config: BridgeConfig = CONFIG) -> None:
        self.config = config
        self.state: dict[str, Any] = {}
        self.published: list[dict[str, Any]] = []

    def _keep(self, mapped: Mapped) -> list[dict[str, Any]]:
        events = []
        for outgoing in mapped.events:
            parsed = parse_event(json.dumps(outgoing.event).encode(), Topic.CIRCULATION)
            assert outgoing.key == parsed.envelope.subject
            assert parsed.envelope.time <= NOW
            events.append(outgoing.event)
        for key, value in mapped.changes.items():
            if value is None:
                self.state.pop(key, None)
            else:
                self.state[key] = value
        self.published.extend(events)
        return events

    def loan(self, value: bytes, now: datetime = NOW) -> list[dict[str, Any]]:
        return self._keep(map_loan_event(value, self.state.get, self.config, now))

    def user(self, value: bytes) -> list[dict[str, Any]]:
        return self._keep(map_user_event(value, self.state.get, self.config, NOW))

    def balance(self, value: bytes, at: datetime = T0, position: str = "t/0/0") -> list[dict[str, Any]]:
        return self._keep(map_balance_event(value, position, at, self.state.get, self.config, NOW))


def types(events: list[dict[str, Any]]) -> list[str]:
    return [e["type"] for e in events]


def user_id() -> str:
    return str(uuid.uuid4())


# -- loans ---------------------------------------------------------------------


def test_a_checkout_opens_a_loan_keyed_by_the_folio_user() -> None:
    patron = user_id()
    story = LoanStory(patron, T0)
    [opened] = PureBridge().loan(story.checkout())
    assert opened["type"] == "library.loan.opened" and opened["subject"] == patron
    assert opened["source"] == "urn:library:central"
    assert opened["data"] == {
        "loan_id": story.loan.id, "library_id": "central", "patron_id": patron, "item_id": story.loan.item_id,
        "title": f"FOLIO item {story.loan.item_id}", "borrowed_at": "2026-10-01T02:00:00+00:00",
        "due_at": "2026-10-15T02:00:00+00:00",
    }  # fmt: skip
    assert opened["time"] == "2026-10-01T02:00:00+00:00"


def test_a_renewal_moves_the_due_date() -> None:
    bridge, story = PureBridge(), LoanStory(user_id(), T0)
    bridge.loan(story.checkout())
    [renewed] = bridge.loan(story.renew(T0 + timedelta(days=10)))
    assert renewed["type"] == "library.loan.renewed"
    assert renewed["data"]["due_at"] == "2026-10-29T02:00:00+00:00"
    assert renewed["time"] == "2026-10-11T02:00:00+00:00"


def test_a_declaration_of_loss_marks_the_loan_lost() -> None:
    bridge, story = PureBridge(), LoanStory(user_id(), T0)
    bridge.loan(story.checkout())
    [lost] = bridge.loan(story.declare_lost(T0 + timedelta(days=40)))
    assert lost["type"] == "library.loan.lost" and lost["data"] == {"loan_id": story.loan.id, "library_id": "central"}


def test_a_recall_that_moves_the_due_date_is_a_renewal() -> None:
    bridge, story = PureBridge(), LoanStory(user_id(), T0)
    bridge.loan(story.checkout())
    recalled = story.update(T0 + timedelta(days=2), action="recallrequested", due_date=T0 + timedelta(days=7))
    [renewed] = bridge.loan(recalled)
    assert renewed["type"] == "library.loan.renewed" and renewed["data"]["due_at"] == "2026-10-08T02:00:00+00:00"


def test_an_item_aged_to_lost_marks_the_loan_lost() -> None:
    bridge, story = PureBridge(), LoanStory(user_id(), T0)
    bridge.loan(story.checkout())
    aged = story.update(T0 + timedelta(days=60), action="itemAgedToLost", item_status="Aged to lost")
    assert types(bridge.loan(aged)) == ["library.loan.lost"]


def test_a_check_in_returns_the_loan_at_its_return_date() -> None:
    bridge, story = PureBridge(), LoanStory(user_id(), T0)
    bridge.loan(story.checkout())
    [returned] = bridge.loan(story.check_in(T0 + timedelta(days=3, hours=5)))
    assert returned["type"] == "library.loan.returned"
    assert returned["data"]["returned_at"] == "2026-10-04T07:00:00+00:00"
    assert f"loan/{story.loan.id}" not in bridge.state


def test_a_lost_item_checked_in_is_returned() -> None:
    bridge, story = PureBridge(), LoanStory(user_id(), T0)
    bridge.loan(story.checkout())
    bridge.loan(story.declare_lost(T0 + timedelta(days=40)))
    assert types(bridge.loan(story.check_in(T0 + timedelta(days=50)))) == ["library.loan.returned"]


def test_a_claimed_returned_loan_stays_open_and_publishes_nothing() -> None:
    bridge, story = PureBridge(), LoanStory(user_id(), T0)
    bridge.loan(story.checkout())
    assert bridge.loan(story.claim_returned(T0 + timedelta(days=20))) == []
    assert bridge.state[f"loan/{story.loan.id}"]["lost"] is False


def test_a_loan_first_seen_at_its_renewal_is_opened_with_the_current_due_date() -> None:
    bridge, story = PureBridge(), LoanStory(user_id(), T0)
    story.checkout()  # FOLIO dropped this one
    [opened] = bridge.loan(story.renew(T0 + timedelta(days=10)))
    assert opened["type"] == "library.loan.opened" and opened["data"]["due_at"] == "2026-10-29T02:00:00+00:00"


def test_a_loan_first_seen_declared_lost_is_opened_and_lost() -> None:
    bridge, story = PureBridge(), LoanStory(user_id(), T0)
    story.checkout()
    assert types(bridge.loan(story.declare_lost(T0 + timedelta(days=40)))) == [
        "library.loan.opened",
        "library.loan.lost",
    ]


def test_a_loan_closed_before_the_bridge_saw_it_open_publishes_nothing() -> None:
    bridge, story = PureBridge(), LoanStory(user_id(), T0)
    story.checkout()
    closed = json.loads(story.check_in(T0 + timedelta(days=3)))["data"]["new"]
    assert bridge.loan(domain_event("CREATED", None, closed, T0 + timedelta(days=3))) == []
    assert bridge.loan(story.anonymise(T0 + timedelta(days=30))) == []


def test_a_deleted_open_loan_no_longer_blocks() -> None:
    bridge, story = PureBridge(), LoanStory(user_id(), T0)
    bridge.loan(story.checkout())
    [returned] = bridge.loan(story.delete(T0 + timedelta(days=2)))
    assert returned["type"] == "library.loan.returned" and returned["time"] == "2026-10-03T02:00:00+00:00"


def test_a_deleted_closed_loan_publishes_nothing() -> None:
    bridge, story = PureBridge(), LoanStory(user_id(), T0)
    bridge.loan(story.checkout())
    bridge.loan(story.check_in(T0 + timedelta(days=1)))
    assert bridge.loan(story.delete(T0 + timedelta(days=2))) == []


def test_an_older_version_of_a_known_loan_read_again_publishes_nothing() -> None:
    bridge, story = PureBridge(), LoanStory(user_id(), T0)
    checkout = story.checkout()
    bridge.loan(checkout)
    bridge.loan(story.renew(T0 + timedelta(days=10)))
    assert bridge.loan(checkout) == []
    assert bridge.state[f"loan/{story.loan.id}"]["due_at"] == "2026-10-29T02:00:00+00:00"


def test_a_reread_loan_event_gets_the_same_id() -> None:
    story = LoanStory(user_id(), T0)
    checkout = story.checkout()
    assert PureBridge().loan(checkout)[0]["id"] == PureBridge().loan(checkout)[0]["id"]


def test_event_time_is_never_in_the_future() -> None:
    story = LoanStory(user_id(), NOW + timedelta(hours=2))
    [opened] = PureBridge().loan(story.checkout())
    assert opened["time"] == NOW.isoformat()
    assert opened["data"]["borrowed_at"] == (NOW + timedelta(hours=2)).isoformat()


def test_all_deleted_is_unmappable() -> None:
    with pytest.raises(UnmappableRecord, match="ALL_DELETED"):
        PureBridge().loan(json.dumps({"id": "x", "type": "ALL_DELETED", "tenant": TENANT, "timestamp": 1}).encode())


@pytest.mark.parametrize("value", [b"not json", b'{"type": "CREATED", "data": {"new": {"id": "L1"}}}', None])
def test_a_malformed_loan_record_is_unmappable(value: bytes | None) -> None:
    with pytest.raises(UnmappableRecord):
        PureBridge().loan(value)  # type: ignore[arg-type]


def test_an_open_loan_without_a_user_is_unmappable() -> None:
    story = LoanStory(user_id(), T0)
    story.loan.anonymised = True
    with pytest.raises(UnmappableRecord, match="userId"):
        PureBridge().loan(story.checkout())


# -- users ---------------------------------------------------------------------


def test_a_user_with_a_student_number_links_the_patron() -> None:
    patron = user_id()
    [linked] = PureBridge().user(user_created(patron, "2019100123", T0))
    assert linked["type"] == "library.patron.linked" and linked["subject"] == patron
    assert linked["data"] == {"patron_id": patron, "library_id": "central", "student_id": "2019100123"}


def test_an_update_that_keeps_the_student_number_publishes_nothing_more() -> None:
    bridge, patron = PureBridge(), user_id()
    bridge.user(user_created(patron, "2019100123", T0))
    again = user_record(patron, "2019100123", T0 + timedelta(days=1), active=False)
    assert bridge.user(domain_event("UPDATED", user_record(patron, "2019100123", T0), again, T0)) == []


def test_an_older_version_of_a_user_read_again_does_not_relink() -> None:
    bridge, patron = PureBridge(), user_id()
    first = user_created(patron, "2019100123", T0)
    bridge.user(first)
    later = user_record(patron, "2019100999", T0 + timedelta(days=1))
    [relinked] = bridge.user(domain_event("UPDATED", user_record(patron, "2019100123", T0), later, T0))
    assert relinked["data"]["student_id"] == "2019100999"
    assert bridge.user(first) == []


def test_the_student_number_can_come_from_the_barcode() -> None:
    bridge, patron = PureBridge(BridgeConfig("central", TENANT, student_id_field="barcode")), user_id()
    [linked] = bridge.user(user_created(patron, None, T0, barcode="2020200456"))
    assert linked["data"]["student_id"] == "2020200456"


def test_a_deleted_user_publishes_nothing() -> None:
    patron = user_id()
    assert PureBridge().user(domain_event("DELETED", user_record(patron, "2019100123", T0), None, T0)) == []


def test_a_user_without_a_student_number_publishes_nothing() -> None:
    assert PureBridge().user(user_created(user_id(), None, T0)) == []


# -- fees/fines ----------------------------------------------------------------


def test_a_new_account_is_assessed_at_its_balance() -> None:
    account, patron, loan = user_id(), user_id(), user_id()
    [assessed] = PureBridge().balance(balance_changed(account, patron, "15000.00", loan_id=loan))
    assert assessed["type"] == "library.fine.assessed" and assessed["subject"] == patron
    assert assessed["data"] == {
        "fine_id": account, "library_id": "central", "patron_id": patron, "amount": "15000", "currency": "IDR",
        "reason": "Overdue fine", "loan_id": loan,
    }  # fmt: skip


def test_a_lowered_balance_is_a_payment_of_the_difference() -> None:
    bridge, account, patron = PureBridge(), user_id(), user_id()
    bridge.balance(balance_changed(account, patron, "15000.00"), position="t/0/1")
    [paid] = bridge.balance(balance_changed(account, patron, "5000.50"), position="t/0/2")
    assert paid["type"] == "library.fine.paid"
    assert paid["data"] == {"fine_id": account, "library_id": "central", "amount": "9999.5"}


def test_a_deleted_account_is_waived() -> None:
    bridge, account, patron = PureBridge(), user_id(), user_id()
    bridge.balance(balance_changed(account, patron, "15000.00"))
    [waived] = bridge.balance(balance_changed(account, None, "0"))
    assert waived["type"] == "library.fine.waived" and waived["subject"] == patron
    assert waived["data"] == {"fine_id": account, "library_id": "central"}


def test_a_raised_balance_waives_and_reassesses_the_whole_new_balance() -> None:
    bridge, account, patron = PureBridge(), user_id(), user_id()
    bridge.balance(balance_changed(account, patron, "100.00"))
    bridge.balance(balance_changed(account, patron, "40.00"))
    waived, assessed = bridge.balance(balance_changed(account, patron, "70.00", fee_fine_type_id=LOST_ITEM_FEE))
    assert waived["data"]["fine_id"] == account
    assert assessed["data"]["fine_id"] == f"{account}:1" and assessed["data"]["amount"] == "70"
    assert assessed["data"]["reason"] == "Lost item fee"
    [paid] = bridge.balance(balance_changed(account, patron, "0"))
    assert paid["data"] == {"fine_id": f"{account}:1", "library_id": "central", "amount": "70"}


def test_the_same_balance_change_read_again_publishes_nothing() -> None:
    bridge, account, patron = PureBridge(), user_id(), user_id()
    first = balance_changed(account, patron, "100.00")
    bridge.balance(first)
    bridge.balance(balance_changed(account, patron, "0"))
    assert bridge.balance(first) == []
    assert bridge.state[f"account/{account}"]["balance"] == "0"


def test_amounts_stay_exact_decimals() -> None:
    bridge, account, patron = PureBridge(), user_id(), user_id()
    bridge.balance(balance_changed(account, patron, "0.3"))
    [paid] = bridge.balance(balance_changed(account, patron, "0.1"))
    assert Decimal(paid["data"]["amount"]) == Decimal("0.2")


def test_the_deletion_of_an_account_never_seen_is_unmappable() -> None:
    with pytest.raises(UnmappableRecord, match="never seen"):
        PureBridge().balance(balance_changed(user_id(), None, "0"))


def test_a_payload_that_is_not_json_is_unmappable() -> None:
    record = json.dumps({"id": "e1", "eventType": "FEE_FINE_BALANCE_CHANGED", "eventPayload": "{oops"}).encode()
    with pytest.raises(UnmappableRecord, match="eventPayload"):
        PureBridge().balance(record)


# -- snapshots -----------------------------------------------------------------


def test_a_snapshot_restates_open_loans_and_the_balance_after_the_latest_fact() -> None:
    bridge, patron = PureBridge(), user_id()
    bridge.user(user_created(patron, "2019100123", T0))
    kept, returned = LoanStory(patron, T0), LoanStory(patron, T0)
    bridge.loan(kept.checkout())
    bridge.loan(kept.declare_lost(T0 + timedelta(days=40)))
    bridge.loan(returned.checkout())
    bridge.loan(returned.check_in(T0 + timedelta(days=41)))
    bridge.balance(balance_changed(user_id(), patron, "25000.00"), at=T0 + timedelta(days=42))
    scans = {p: {k: v for k, v in bridge.state.items() if k.startswith(p)} for p in ("patron/", "loan/", "account/")}
    linked, snapshot = (
        o.event for o in restatement(scans["patron/"], scans["loan/"], scans["account/"], CONFIG, NOW)[patron]
    )
    parse_event(json.dumps(snapshot).encode(), Topic.CIRCULATION)
    assert linked["data"]["student_id"] == "2019100123"
    assert snapshot["type"] == "library.patron.snapshot"
    assert snapshot["data"]["as_of"] == (T0 + timedelta(days=42, milliseconds=1)).isoformat()
    assert [loan["loan_id"] for loan in snapshot["data"]["open_loans"]] == [kept.loan.id]
    assert snapshot["data"]["open_loans"][0]["lost"] is True
    assert snapshot["data"]["fine_balance"] == "25000" and snapshot["data"]["currency"] == "IDR"
    again = restatement(scans["patron/"], scans["loan/"], scans["account/"], CONFIG, NOW)[patron]
    assert [o.event["id"] for o in again] == [linked["id"], snapshot["id"]]
