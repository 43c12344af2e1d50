"""What differs between PostgreSQL and SQLite, in one place.

Every repository asks this class for inserts with ON CONFLICT, for "rows with
one of these keys", for row locks and for bulk copies, instead of branching on
the dialect itself. On PostgreSQL keys travel as one array per column (the
statement stays short, the driver caches it, the planner makes one index
lookup per key: a row-value IN list of 500 pairs cost 170-400 ms a batch
there, the join on unnest a few); SQLite keeps bounded IN lists.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Select, String, Table, and_, any_, bindparam, func, select, tuple_
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session
from sqlalchemy.types import TypeDecorator

T = TypeVar("T")

# Bound parameters per IN-list; SQLite allows 32766 and PostgreSQL 65535 in all.
CHUNK = 500


def chunks(items: Sequence[T], size: int = CHUNK) -> Iterable[Sequence[T]]:
    """``items`` in consecutive slices of at most ``size``."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


class Dialect:
    """The SQL of one session's database, PostgreSQL or SQLite."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.name = session.get_bind().dialect.name
        self.postgresql = self.name == "postgresql"
        self.insert = postgresql.insert if self.postgresql else sqlite.insert

    def keyed(self, stmt: Select[Any], columns: Sequence[Any], keys: Iterable[tuple[Any, ...]]) -> list[Select[Any]]:
        """``stmt`` restricted to rows whose ``columns`` equal one of ``keys``, in as few statements as may be."""
        unique = list(set(keys))
        if not unique:
            return []
        if not self.postgresql:
            return [stmt.where(tuple_(*columns).in_(chunk)) for chunk in chunks(unique)]
        names = [f"k{i}" for i in range(len(columns))]
        arrays = [bindparam(None, [key[i] for key in unique], type_=ARRAY(String)) for i in range(len(columns))]
        keyset = func.unnest(*arrays).table_valued(*names).render_derived()
        return [stmt.join(keyset, and_(*(c == keyset.c[n] for c, n in zip(columns, names, strict=True))))]

    def groups(self, values: Sequence[T]) -> list[Sequence[T]]:
        """``values`` in groups that :meth:`among` takes: all at once on PostgreSQL, bounded chunks on SQLite."""
        if not values:
            return []
        return [values] if self.postgresql else list(chunks(values))

    def among(self, column: Any, values: Sequence[Any]) -> ColumnElement[bool]:
        """``column`` is one of ``values``: one array parameter on PostgreSQL, an IN list on SQLite."""
        if self.postgresql:
            return column == any_(bindparam(None, list(values), type_=ARRAY(column.type)))
        return column.in_(values)

    def create_rows(self, table: Table, column: Any, values: Sequence[str]) -> None:
        """Insert one row per value of ``column`` where none exists yet."""
        if not values:
            return
        if self.postgresql:
            new = select(func.unnest(bindparam(None, list(values), type_=ARRAY(String))))
            self.session.execute(self.insert(table).from_select([column.key], new).on_conflict_do_nothing())
            return
        for chunk in chunks(values):
            self.session.execute(self.insert(table).values([{column.key: v} for v in chunk]).on_conflict_do_nothing())

    def lock_rows(self, stmt: Select[Any], skip_locked: bool) -> Select[Any] | None:
        """``stmt`` taking row locks, or None where the database serialises writers itself (SQLite's one writer)."""
        if not self.postgresql:
            return None
        return stmt.with_for_update(skip_locked=skip_locked)

    def try_lock(self, key: int) -> bool:
        """Take a transaction-scoped advisory lock if free; SQLite's one writer needs none."""
        if not self.postgresql:
            return True
        return bool(self.session.execute(select(func.pg_try_advisory_xact_lock(key))).scalar())

    def insert_many(self, table: Table, rows: Sequence[dict[str, Any]]) -> None:
        """Insert ``rows`` in order: COPY on PostgreSQL (half the time of an executemany), executemany on SQLite."""
        if not rows:
            return
        if not self.postgresql or len(rows) == 1:
            self.session.execute(table.insert(), list(rows))
            return
        self._copy(table, rows)

    def _copy(self, table: Table, rows: Sequence[dict[str, Any]]) -> None:
        # Errors come out as SQLAlchemy's, as from any other statement, so an outage is still
        # told from bad data (clearance.store.errors.is_transient).
        import psycopg  # the PostgreSQL driver; SQLite never gets here

        names = list(rows[0])
        dialect = self.session.get_bind().dialect
        processors = {
            name: table.c[name].type.process_bind_param
            for name in names
            if isinstance(table.c[name].type, TypeDecorator)
        }
        statement = f"COPY {table.name} ({', '.join(names)}) FROM STDIN"
        driver = self.session.connection().connection.driver_connection
        try:
            with driver.cursor() as cursor, cursor.copy(statement) as copy:
                for row in rows:
                    copy.write_row([processors[n](row[n], dialect) if n in processors else row[n] for n in names])
        except psycopg.Error as exc:
            raise DBAPIError.instance(statement, None, exc, psycopg.Error, dialect=dialect) from exc
