"""Listing and replaying dead-lettered messages, after whatever rejected them is fixed.

A replay re-publishes the original key and bytes to the origin topic. A dead
letter whose event was processed since (its ``source`` + ``id`` is in the
inbox, e.g. because the library re-sent it corrected) is skipped, so a replay
never applies an event twice. No Kafka here: the caller passes ``publish``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from clearance.store.dialect import Dialect
from clearance.store.inbox import SqlInbox
from clearance.store.tables import DeadLetterRow


@dataclass(frozen=True, slots=True)
class DeadLetterView:
    """A dead letter as an operator sees it."""

    id: int
    origin_topic: str
    origin_partition: int
    origin_offset: int
    error_kind: str
    error_message: str
    created_at: datetime
    event_type: str | None
    event_key: tuple[str, str] | None
    processed: bool
    replay_count: int


@dataclass(slots=True)
class ReplayReport:
    """What a replay did."""

    replayed: list[int] = field(default_factory=list)
    already_processed: list[int] = field(default_factory=list)


def _identity(value: bytes | None) -> tuple[str | None, tuple[str, str] | None]:
    """The type and (source, id) of a dead letter's value, where it is a readable CloudEvent."""
    try:
        raw: Any = json.loads(value or b"")
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None, None
    if not isinstance(raw, dict):
        return None, None
    event_type = raw.get("type") if isinstance(raw.get("type"), str) else None
    source, event_id = raw.get("source"), raw.get("id")
    key = (source, event_id) if isinstance(source, str) and isinstance(event_id, str) else None
    return event_type, key


def list_dead_letters(
    session: Session,
    *,
    event_type: str | None = None,
    since: datetime | None = None,
    kind: str | None = None,
    ids: Sequence[int] = (),
) -> list[DeadLetterView]:
    """Dead letters, oldest first, filtered by event type, time, error kind or id."""
    query = select(DeadLetterRow).order_by(DeadLetterRow.id)
    if since is not None:
        query = query.where(DeadLetterRow.created_at >= since)
    if kind is not None:
        query = query.where(DeadLetterRow.error_kind == kind)
    if ids:
        query = query.where(DeadLetterRow.id.in_(list(ids)))
    rows = list(session.scalars(query))
    identities = {row.id: _identity(row.value) for row in rows}
    processed = SqlInbox(Dialect(session)).seen([key for _, key in identities.values() if key is not None])
    views = []
    for row in rows:
        row_type, key = identities[row.id]
        if event_type is not None and row_type != event_type:
            continue
        views.append(
            DeadLetterView(
                id=row.id, origin_topic=row.origin_topic, origin_partition=row.origin_partition,
                origin_offset=row.origin_offset, error_kind=row.error_kind, error_message=row.error_message,
                created_at=row.created_at, event_type=row_type, event_key=key,
                processed=key is not None and key in processed, replay_count=row.replay_count or 0,
            )
        )  # fmt: skip
    return views


def replay(
    session: Session,
    publish: Callable[[str, bytes | None, bytes | None], None],
    *,
    event_type: str | None = None,
    since: datetime | None = None,
    ids: Sequence[int] = (),
    dry_run: bool = False,
) -> ReplayReport:
    """Re-publish the selected dead letters to their origin topics; the caller commits."""
    report = ReplayReport()
    for view in list_dead_letters(session, event_type=event_type, since=since, ids=ids):
        if view.processed:
            report.already_processed.append(view.id)
            continue
        row = session.get(DeadLetterRow, view.id)
        assert row is not None
        if not dry_run:
            publish(row.origin_topic, row.key, row.value)
            row.replayed_at = datetime.now(UTC)
            row.replay_count = (row.replay_count or 0) + 1
        report.replayed.append(view.id)
    return report
