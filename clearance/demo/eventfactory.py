"""Builders of inbound CloudEvents, as the registrar, libraries and deposit desk send them.

Used by the demo's simulation and by the tests; they write to the wire
contract (SPEC §4), not to what this service happens to accept.
"""

from __future__ import annotations

import itertools
import json
import uuid
from datetime import datetime
from typing import Any

from schemas.registry import INBOUND_TYPES, Topic


def _iso(value: datetime | str) -> str:
    return value if isinstance(value, str) else value.isoformat()


class EventFactory:
    """Makes CloudEvent dicts from one ``source``; ``time`` defaults to ``clock()``."""

    def __init__(self, source: str, clock: Any) -> None:
        self.source = source
        self.clock = clock
        self._ids = itertools.count(1)

    def event(
        self,
        event_type: str,
        subject: str,
        data: dict[str, Any],
        *,
        time: datetime | str | None = None,
        event_id: str | None = None,
        sequence: int | None = None,
    ) -> dict[str, Any]:
        """A CloudEvent of ``event_type`` about ``subject``."""
        envelope: dict[str, Any] = {
            "specversion": "1.0",
            "id": event_id or str(uuid.uuid4()),
            "source": self.source,
            "type": event_type,
            "time": _iso(time or self.clock()),
            "subject": subject,
            "datacontenttype": "application/json",
            "data": {k: (_iso(v) if isinstance(v, datetime) else v) for k, v in data.items() if v is not None},
        }
        if sequence is not None:
            envelope["sequence"] = str(sequence)
        return envelope

    # -- registrar -------------------------------------------------------------

    def application_submitted(self, application_id: str, student_id: str, *, full_name: str, faculty: str,
                              program: str, degree_level: str = "S1", graduation_period: str = "2026-2",
                              ceremony_date: str | None = None, **kw: Any) -> dict[str, Any]:  # fmt: skip
        return self.event("graduation.application.submitted", student_id, {
            "application_id": application_id, "student_id": student_id, "full_name": full_name,
            "faculty": faculty, "program": program, "degree_level": degree_level,
            "graduation_period": graduation_period, "ceremony_date": ceremony_date}, **kw)  # fmt: skip

    def application_withdrawn(self, application_id: str, student_id: str, reason: str | None = None,
                              **kw: Any) -> dict[str, Any]:  # fmt: skip
        return self.event(
            "graduation.application.withdrawn",
            student_id,
            {"application_id": application_id, "student_id": student_id, "reason": reason},
            **kw,
        )

    # -- library circulation ---------------------------------------------------

    def patron_linked(self, library_id: str, patron_id: str, student_id: str, **kw: Any) -> dict[str, Any]:
        return self.event(
            "library.patron.linked",
            patron_id,
            {"patron_id": patron_id, "library_id": library_id, "student_id": student_id},
            **kw,
        )

    def loan_opened(self, library_id: str, loan_id: str, patron_id: str, *, item_id: str, title: str,
                    borrowed_at: datetime | str, due_at: datetime | str, interlibrary: bool | None = None,
                    **kw: Any) -> dict[str, Any]:  # fmt: skip
        return self.event("library.loan.opened", patron_id, {
            "loan_id": loan_id, "library_id": library_id, "patron_id": patron_id, "item_id": item_id,
            "title": title, "borrowed_at": borrowed_at, "due_at": due_at, "interlibrary": interlibrary,
        }, **kw)  # fmt: skip

    def loan_renewed(self, library_id: str, loan_id: str, patron_id: str, due_at: datetime | str,
                     **kw: Any) -> dict[str, Any]:  # fmt: skip
        return self.event(
            "library.loan.renewed", patron_id, {"loan_id": loan_id, "library_id": library_id, "due_at": due_at}, **kw
        )

    def loan_returned(self, library_id: str, loan_id: str, patron_id: str, returned_at: datetime | str,
                      **kw: Any) -> dict[str, Any]:  # fmt: skip
        return self.event(
            "library.loan.returned",
            patron_id,
            {"loan_id": loan_id, "library_id": library_id, "returned_at": returned_at},
            **kw,
        )

    def loan_lost(self, library_id: str, loan_id: str, patron_id: str, **kw: Any) -> dict[str, Any]:
        return self.event("library.loan.lost", patron_id, {"loan_id": loan_id, "library_id": library_id}, **kw)

    def fine_assessed(self, library_id: str, fine_id: str, patron_id: str, amount: str, *, currency: str = "IDR",
                      reason: str = "overdue", loan_id: str | None = None, **kw: Any) -> dict[str, Any]:  # fmt: skip
        return self.event("library.fine.assessed", patron_id, {
            "fine_id": fine_id, "library_id": library_id, "patron_id": patron_id, "amount": amount,
            "currency": currency, "reason": reason, "loan_id": loan_id}, **kw)  # fmt: skip

    def fine_paid(self, library_id: str, fine_id: str, patron_id: str, amount: str, **kw: Any) -> dict[str, Any]:
        return self.event(
            "library.fine.paid", patron_id, {"fine_id": fine_id, "library_id": library_id, "amount": amount}, **kw
        )

    def fine_waived(self, library_id: str, fine_id: str, patron_id: str, **kw: Any) -> dict[str, Any]:
        return self.event("library.fine.waived", patron_id, {"fine_id": fine_id, "library_id": library_id}, **kw)

    def training_completed(self, library_id: str, patron_id: str, completed_at: datetime | str,
                           course: str = "information-literacy", **kw: Any) -> dict[str, Any]:  # fmt: skip
        return self.event("library.training.completed", patron_id, {
            "patron_id": patron_id, "library_id": library_id, "course": course, "completed_at": completed_at,
        }, **kw)  # fmt: skip

    # -- thesis deposit desk ---------------------------------------------------

    def deposit_submitted(self, deposit_id: str, student_id: str, title: str, degree_level: str = "S1",
                          **kw: Any) -> dict[str, Any]:  # fmt: skip
        return self.event("thesis.deposit.submitted", student_id, {
            "deposit_id": deposit_id, "student_id": student_id, "title": title, "degree_level": degree_level,
        }, **kw)  # fmt: skip

    def deposit_accepted(self, deposit_id: str, student_id: str, repository_id: str | None = None,
                         **kw: Any) -> dict[str, Any]:  # fmt: skip
        return self.event(
            "thesis.deposit.accepted",
            student_id,
            {"deposit_id": deposit_id, "student_id": student_id, "repository_id": repository_id},
            **kw,
        )

    def deposit_rejected(self, deposit_id: str, student_id: str, reason: str, **kw: Any) -> dict[str, Any]:
        return self.event(
            "thesis.deposit.rejected",
            student_id,
            {"deposit_id": deposit_id, "student_id": student_id, "reason": reason},
            **kw,
        )


def topic_of(event: dict[str, Any]) -> Topic:
    """The logical topic an inbound event belongs on."""
    return INBOUND_TYPES[event["type"]][0]


def record_of(event: dict[str, Any]) -> tuple[bytes, bytes]:
    """The Kafka key (the subject) and value (structured CloudEvent JSON) of an event."""
    return event["subject"].encode("utf-8"), json.dumps(event, ensure_ascii=False).encode("utf-8")
