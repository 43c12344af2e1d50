"""How far each inbound partition is applied: written with the data, read by the freshness gate."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime

from sqlalchemy import and_, func, or_, select

from clearance.store.dialect import Dialect
from clearance.store.tables import ConsumerPositionRow


class SqlPositions:
    """Applied positions in one transaction."""

    def __init__(self, dialect: Dialect) -> None:
        self.dialect = dialect
        self.session = dialect.session

    def save(
        self, positions: Mapping[tuple[str, int], int], at: datetime, topic_ids: Mapping[str, str | None] | None = None
    ) -> None:
        """Record how far partitions are applied.

        Within one incarnation of a topic (``topic_ids``: logical topic to the
        broker's topic id) a position never moves backwards; a position in a new
        incarnation replaces the old one, whatever its offset.
        """
        ids = topic_ids or {}
        stored = ConsumerPositionRow
        for (topic, partition), offset in sorted(positions.items()):
            stmt = self.dialect.insert(stored).values(
                topic=topic, partition=partition, next_offset=offset, updated_at=at, topic_id=ids.get(topic)
            )
            excluded = stmt.excluded
            stmt = stmt.on_conflict_do_update(
                index_elements=[stored.topic, stored.partition],
                set_={
                    "next_offset": excluded.next_offset,
                    "updated_at": excluded.updated_at,
                    "topic_id": func.coalesce(excluded.topic_id, stored.topic_id),
                },
                where=or_(
                    stored.next_offset < excluded.next_offset,
                    and_(excluded.topic_id.is_not(None), stored.topic_id.is_distinct_from(excluded.topic_id)),
                ),
            )
            self.session.execute(stmt)

    def applied(
        self, topics: Iterable[str], topic_ids: Mapping[str, str | None] | None = None
    ) -> dict[tuple[str, int], int]:
        """How far each partition of ``topics`` is applied.

        With ``topic_ids``, a position stored against another incarnation of
        its topic is left out: it says nothing about the log there is now.
        """
        rows = self.session.execute(
            select(
                ConsumerPositionRow.topic,
                ConsumerPositionRow.partition,
                ConsumerPositionRow.next_offset,
                ConsumerPositionRow.topic_id,
            ).where(ConsumerPositionRow.topic.in_(list(topics)))
        )
        current = topic_ids or {}
        return {
            (t, p): o
            for t, p, o, stored_id in rows
            if stored_id is None or current.get(t) is None or current[t] == stored_id
        }
