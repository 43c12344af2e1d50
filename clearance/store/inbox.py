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
        if entries:
            self.session.execute(
                InboxRow.__table__.insert(),
                [{"source": s, "event_id": i, "type": t, "processed_at": at} for s, i, t in entries],
            )

    def prune(self, before: datetime) -> int:
        """Forget ids applied before ``before``; return how many."""
        return int(self.session.execute(delete(InboxRow).where(InboxRow.processed_at < before)).rowcount or 0)
