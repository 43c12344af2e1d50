"""The inbox: which inbound events were applied, by (source, id) (G1)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, select

from clearance.store.dialect import Dialect
from clearance.store.tables import InboxRow


class SqlInbox:
    """Ids of applied events in one transaction."""

    def __init__(self, dialect: Dialect) -> None:
        self.dialect = dialect
        self.session = dialect.session

    def seen(self, keys: Sequence[tuple[str, str]]) -> set[tuple[str, str]]:
        """Which of the (source, id) pairs were applied before."""
        found: set[tuple[str, str]] = set()
        columns = [InboxRow.source, InboxRow.event_id]
        for stmt in self.dialect.keyed(select(*columns), columns, keys):
            found.update((s, i) for s, i in self.session.execute(stmt))
        return found

    def remember(self, entries: Sequence[tuple[str, str, str]], at: datetime) -> None:
        """Record (source, id, type) as applied. A concurrent duplicate fails the transaction."""
        # COPY on PostgreSQL: a duplicate key fails it as it fails an INSERT.
        self.dialect.insert_many(
            InboxRow.__table__, [{"source": s, "event_id": i, "type": t, "processed_at": at} for s, i, t in entries]
        )

    def claim(self, entries: Sequence[tuple[str, str, str]], at: datetime) -> set[tuple[str, str]]:
        """Record as applied each (source, id, type) not applied before; return the (source, id) recorded now.

        One statement on PostgreSQL (``INSERT ... ON CONFLICT DO NOTHING RETURNING``): an id another
        transaction records meanwhile waits for it, and counts as applied once it commits.
        On SQLite, whose one writer excludes that race, a read and an insert.
        """
        first: dict[tuple[str, str], tuple[str, str, str]] = {}
        for source, event_id, event_type in entries:
            first.setdefault((source, event_id), (source, event_id, event_type))
        unique = list(first.values())
        if not unique:
            return set()
        if not self.dialect.postgresql:
            seen = self.seen([(s, i) for s, i, _ in unique])
            new = [(s, i, t) for s, i, t in unique if (s, i) not in seen]
            self.remember(new, at)
            return {(s, i) for s, i, _ in new}
        rows = [{"source": s, "event_id": i, "type": t, "processed_at": at} for s, i, t in unique]
        return self.dialect.insert_new(InboxRow.__table__, rows)

    def prune(self, before: datetime) -> int:
        """Forget ids applied before ``before``; return how many."""
        return int(self.session.execute(delete(InboxRow).where(InboxRow.processed_at < before)).rowcount or 0)
