"""The outbox the relay publishes from, and the dead letters beside it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Row, delete, select, update

from clearance.store.dialect import Dialect
from clearance.store.pending import PendingWrites, column_values
from clearance.store.tables import DeadLetterRow, OutboxRow
from schemas.registry import Topic

# One relay publishes at a time across instances (PostgreSQL advisory lock key).
RELAY_LOCK = 7426018


class SqlOutbox:
    """Outbox rows and dead letters in one transaction."""

    def __init__(self, dialect: Dialect, pending: PendingWrites) -> None:
        self.dialect = dialect
        self.session = dialect.session
        self.pending = pending

    def add(self, values: Mapping[str, Any]) -> None:
        """Queue a message for the relay; written with the transaction, in the order added."""
        self.pending.insert(OutboxRow, values)

    def add_dead_letter(self, values: Mapping[str, Any]) -> int | None:
        """Record a dead letter; its id, or None when this origin was dead-lettered before."""
        table = DeadLetterRow.__table__
        stmt = (
            self.dialect.insert(table)
            .values(column_values(table, values))
            .on_conflict_do_nothing(index_elements=["origin_topic", "origin_partition", "origin_offset"])
            .returning(table.c.id)
        )
        return self.session.execute(stmt).scalar_one_or_none()

    def lock_relay(self) -> bool:
        """Whether this transaction may publish: one relay at a time across instances."""
        return self.dialect.try_lock(RELAY_LOCK)

    def unpublished(self, limit: int, dead_letters: bool = False) -> list[Row[Any]]:
        """The oldest unpublished messages of one lane, in the order they were written.

        Dead letters travel in their own lane, so that a flood of them never delays a
        certificate or a status; rows set aside are left out. The rows are read-only
        (plain rows with the outbox's column names, not ORM objects: the relay only reads them).
        """
        self.pending.flush()
        table = OutboxRow.__table__
        lane = table.c.topic == Topic.DEAD_LETTER.value
        query = (
            select(*table.columns)
            .where(table.c.published_at.is_(None), table.c.set_aside_at.is_(None), lane if dead_letters else ~lane)
            .order_by(table.c.id)
            .limit(limit)
        )
        return list(self.session.execute(query))

    def set_aside(self, row_id: int, at: datetime, reason: str) -> None:
        """Keep a row the broker refuses for good out of the relay's way."""
        self.session.execute(
            update(OutboxRow).where(OutboxRow.id == row_id).values(set_aside_at=at, set_aside_reason=reason[:2000])
        )

    def set_aside_rows(self) -> list[OutboxRow]:
        """Every row set aside and not published since, oldest first."""
        query = select(OutboxRow).where(OutboxRow.set_aside_at.is_not(None), OutboxRow.published_at.is_(None))
        return list(self.session.scalars(query.order_by(OutboxRow.id)))

    def release(self, ids: Sequence[int] = ()) -> int:
        """Let the relay try set-aside rows again (all, or those of ``ids``); return how many."""
        stmt = update(OutboxRow).where(OutboxRow.set_aside_at.is_not(None), OutboxRow.published_at.is_(None))
        if ids:
            stmt = stmt.where(OutboxRow.id.in_(list(ids)))
        return int(self.session.execute(stmt.values(set_aside_at=None, set_aside_reason=None)).rowcount or 0)

    def mark_published(self, ids: Sequence[int], at: datetime) -> None:
        """Mark rows the broker acknowledged."""
        for chunk in self.dialect.groups(list(ids)):
            self.session.execute(
                update(OutboxRow).where(self.dialect.among(OutboxRow.id, chunk)).values(published_at=at)
            )

    def prune(self, before: datetime) -> int:
        """Delete published rows older than ``before``; return how many."""
        self.pending.flush()
        stmt = delete(OutboxRow).where(OutboxRow.published_at.is_not(None), OutboxRow.published_at < before)
        return int(self.session.execute(stmt).rowcount or 0)
