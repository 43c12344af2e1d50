"""FOLIO's records as FOLIO's modules put them on Kafka, for the FOLIO connector's tests.

Shapes follow the published schemas (written here from them, not copied):
mod-circulation-storage ``ramls/loan.json`` and its domain-event envelope, mod-users
``ramls/userdata.json``, mod-feesfines' ``FEE_FINE_BALANCE_CHANGED`` payload inside
mod-pubsub's event (``eventPayload`` a JSON string, ``balance`` a JSON number).
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

TENANT = "diku"
OVERDUE_FINE = "9523cb96-e752-40c2-89da-60f3961a488d"
LOST_ITEM_FEE = "cf238f9f-7018-47b7-b815-bb2db798e19f"
SERVICE_POINT = "3a40852d-49fd-4df2-a1f9-6e2641a6e91f"
STAFF = "9f0d4a3b-1d5c-4f1e-9a58-1f0b5b0c2a11"


def uid() -> str:
    return str(uuid.uuid4())


def folio_date(value: datetime) -> str:
    """How mod-circulation-storage writes dates: UTC, milliseconds, ``Z``."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def epoch_ms(value: datetime) -> int:
    return int(value.timestamp() * 1000)


@dataclass
class FolioLoan:
    """A loan as mod-circulation-storage keeps it, changed the way mod-circulation changes it."""

    user_id: str
    item_id: str
    loan_date: datetime
    due_date: datetime
    id: str = field(default_factory=uid)
    status: str = "Open"
    action: str = "checkedout"
    item_status: str = "Checked out"
    renewal_count: int = 0
    return_date: datetime | None = None
    declared_lost_date: datetime | None = None
    claimed_returned_date: datetime | None = None
    updated: datetime | None = None
    anonymised: bool = False

    def record(self) -> dict[str, Any]:
        updated = self.updated or self.loan_date
        loan: dict[str, Any] = {
            "id": self.id,
            "itemId": self.item_id,
            "itemEffectiveLocationIdAtCheckOut": "fcd64ce1-6995-48f0-840e-89ffa2288371",
            "status": {"name": self.status},
            "loanDate": folio_date(self.loan_date),
            "dueDate": folio_date(self.due_date),
            "action": self.action,
            "itemStatus": self.item_status,
            "renewalCount": self.renewal_count,
            "loanPolicyId": "d9cd0bed-1b49-4b5e-a7bd-064b8d177231",
            "checkoutServicePointId": SERVICE_POINT,
            "patronGroupIdAtCheckout": "ad0bc554-d5bc-463c-85d1-5562127ae91b",
            "metadata": {
                "createdDate": folio_date(self.loan_date), "createdByUserId": STAFF,
                "updatedDate": folio_date(updated), "updatedByUserId": STAFF,
            },
        }  # fmt: skip
        if not self.anonymised:
            loan["userId"] = self.user_id
        if self.return_date is not None:
            loan["returnDate"] = folio_date(self.return_date)
            loan["systemReturnDate"] = folio_date(self.return_date)
            loan["checkinServicePointId"] = SERVICE_POINT
        if self.declared_lost_date is not None:
            loan["declaredLostDate"] = folio_date(self.declared_lost_date)
        if self.claimed_returned_date is not None:
            loan["claimedReturnedDate"] = folio_date(self.claimed_returned_date)
        return loan


def domain_event(kind: str, old: dict | None, new: dict | None, at: datetime, tenant: str = TENANT) -> bytes:
    """FOLIO's domain-event envelope, as the record value."""
    data: dict[str, Any] = {}
    if old is not None:
        data["old"] = old
    if new is not None:
        data["new"] = new
    event = {"id": uid(), "type": kind, "tenant": tenant, "timestamp": epoch_ms(at), "data": data}
    return json.dumps(event).encode()


class LoanStory:
    """One loan's life, each step the domain event FOLIO publishes for it."""

    def __init__(self, user_id: str, loan_date: datetime, days: int = 14, item_id: str | None = None) -> None:
        self.loan = FolioLoan(user_id, item_id or uid(), loan_date, loan_date + timedelta(days=days))

    def update(self, at: datetime, **changes: Any) -> bytes:
        """Any other change mod-circulation makes (a recall, aging to lost): the fields given, at ``at``."""
        old = self.loan.record()
        for name, value in changes.items():
            setattr(self.loan, name, value)
        self.loan.updated = at
        return domain_event("UPDATED", old, self.loan.record(), at)

    def checkout(self) -> bytes:
        return domain_event("CREATED", None, self.loan.record(), self.loan.loan_date)

    def renew(self, at: datetime, days: int = 14) -> bytes:
        return self.update(at, action="renewed", renewal_count=self.loan.renewal_count + 1,
                            due_date=self.loan.due_date + timedelta(days=days))  # fmt: skip

    def declare_lost(self, at: datetime) -> bytes:
        return self.update(at, action="declaredLost", item_status="Declared lost", declared_lost_date=at)

    def claim_returned(self, at: datetime) -> bytes:
        return self.update(at, action="claimedReturned", item_status="Claimed returned", claimed_returned_date=at)

    def check_in(self, at: datetime) -> bytes:
        return self.update(at, action="checkedin", status="Closed", item_status="Available", return_date=at)

    def anonymise(self, at: datetime) -> bytes:
        return self.update(at, anonymised=True)

    def delete(self, at: datetime) -> bytes:
        return domain_event("DELETED", self.loan.record(), None, at)


def user_record(user_id: str, student_id: str | None, at: datetime, **fields: Any) -> dict[str, Any]:
    """A user of mod-users (``userdata.json``) with the student number in ``externalSystemId``."""
    user: dict[str, Any] = {
        "id": user_id,
        "username": f"u{user_id[:8]}",
        "barcode": f"B{user_id[:8]}",
        "active": True,
        "type": "patron",
        "patronGroup": "ad0bc554-d5bc-463c-85d1-5562127ae91b",
        "departments": [],
        "proxyFor": [],
        "personal": {"lastName": "Rahmawati", "firstName": "Siti", "email": "siti@example.ac.id",
                     "addresses": [], "preferredContactTypeId": "002"},
        "createdDate": folio_date(at),
        "updatedDate": folio_date(at),
        "metadata": {"createdDate": folio_date(at), "createdByUserId": STAFF,
                     "updatedDate": folio_date(at), "updatedByUserId": STAFF},
    }  # fmt: skip
    if student_id is not None:
        user["externalSystemId"] = student_id
    user.update(fields)
    return user


def user_created(user_id: str, student_id: str | None, at: datetime, **fields: Any) -> bytes:
    return domain_event("CREATED", None, user_record(user_id, student_id, at, **fields), at)


def balance_changed(
    account_id: str,
    user_id: str | None,
    balance: str,
    *,
    fee_fine_type_id: str = OVERDUE_FINE,
    loan_id: str | None = None,
    event_id: str | None = None,
) -> bytes:
    """A mod-pubsub record of ``FEE_FINE_BALANCE_CHANGED``; ``balance`` is written as a JSON number.

    ``user_id`` None is the payload of a deleted account (``feeFineId`` and ``balance`` 0 only).
    """
    Decimal(balance)  # a number, written verbatim so that "10.00" stays 10.00 on the wire
    if user_id is None:
        payload = f'{{"feeFineId": {json.dumps(account_id)}, "balance": {balance}}}'
    else:
        fields = {"id": uid(), "feeFineId": account_id, "userId": user_id, "feeFineTypeId": fee_fine_type_id}
        if loan_id is not None:
            fields["loanId"] = loan_id
        payload = json.dumps(fields)[:-1] + f', "balance": {balance}}}'
    event = {
        "id": event_id or uid(),
        "eventType": "FEE_FINE_BALANCE_CHANGED",
        "eventMetadata": {"tenantId": TENANT, "eventTTL": 1, "publishedBy": "mod-feesfines"},
        "eventPayload": payload,
    }
    return json.dumps(event).encode()
