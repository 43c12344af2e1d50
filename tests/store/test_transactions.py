"""One transaction sees its own writes, and deferred writes are kept only when it commits (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from clearance.store.unit_of_work import SqlUnitOfWork
from schemas.registry import Topic

NOW = datetime(2026, 11, 24, tzinfo=UTC)


def _certificate(number: str, application_id: str) -> dict[str, object]:
    document = {"certificate": {"issuer": "urn:library:central"}}
    return {"number": number, "application_id": application_id, "student_id": "S1", "key_id": "k",
            "issued_at": NOW, "document": json.dumps(document)}  # fmt: skip


def _message(event_id: str, topic: Topic = Topic.STATUS) -> dict[str, object]:
    return {"event_id": event_id, "topic": topic.value, "key": b"S1", "value": b"{}", "headers": "[]",
            "type": "clearance.status.changed", "created_at": NOW}  # fmt: skip


def test_a_certificate_added_in_a_transaction_is_visible_to_its_later_queries(session_factory) -> None:
    with SqlUnitOfWork(session_factory) as uow:
        uow.decisions.add_certificate(_certificate("BP/1", "APP-1"))
        found = uow.decisions.certificates_for(["APP-1"])
    assert found["APP-1"].number == "BP/1"


def test_an_outbox_row_added_in_a_transaction_is_visible_to_its_later_queries(session_factory) -> None:
    with SqlUnitOfWork(session_factory) as uow:
        uow.outbox.add(_message("m1"))
        assert [row.event_id for row in uow.outbox.unpublished(10)] == ["m1"]


def test_deferred_writes_are_kept_only_when_the_transaction_commits(session_factory) -> None:
    with SqlUnitOfWork(session_factory) as uow:
        uow.decisions.add_certificate(_certificate("BP/1", "APP-1"))
        uow.outbox.add(_message("m1"))
    with SqlUnitOfWork(session_factory) as uow:
        assert uow.decisions.certificates_for(["APP-1"]) == {} and uow.outbox.unpublished(10) == []
        uow.outbox.add(_message("m2"))
        uow.commit()
    with SqlUnitOfWork(session_factory) as uow:
        assert [row.event_id for row in uow.outbox.unpublished(10)] == ["m2"]


def test_dead_letters_travel_in_their_own_lane(session_factory) -> None:
    with SqlUnitOfWork(session_factory) as uow:
        uow.outbox.add(_message("d1", Topic.DEAD_LETTER))
        uow.outbox.add(_message("s1"))
        uow.commit()
    with SqlUnitOfWork(session_factory) as uow:
        assert [r.event_id for r in uow.outbox.unpublished(10)] == ["s1"]
        assert [r.event_id for r in uow.outbox.unpublished(10, dead_letters=True)] == ["d1"]


def test_a_row_set_aside_holds_up_nothing_and_an_operator_can_release_it(session_factory) -> None:
    with SqlUnitOfWork(session_factory) as uow:
        uow.outbox.add(_message("first"))
        uow.outbox.add(_message("second"))
        uow.commit()
    with SqlUnitOfWork(session_factory) as uow:
        first = uow.outbox.unpublished(1)[0]
        uow.outbox.set_aside(first.id, NOW, "MessageSizeTooLargeError")
        uow.commit()
    with SqlUnitOfWork(session_factory) as uow:
        assert [r.event_id for r in uow.outbox.unpublished(10)] == ["second"]
        assert [r.event_id for r in uow.outbox.set_aside_rows()] == ["first"]
        assert uow.outbox.release() == 1
        uow.commit()
    with SqlUnitOfWork(session_factory) as uow:
        assert [r.event_id for r in uow.outbox.unpublished(10)] == ["first", "second"]
