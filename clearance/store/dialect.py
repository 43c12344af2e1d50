"""What differs between PostgreSQL and SQLite, in one place.

Every repository asks this class for inserts with ON CONFLICT, for "rows with
one of these keys", for row locks and for bulk copies, instead of branching on
the dialect itself. On PostgreSQL keys travel as one array per column (the
statement stays short, the driver caches it, the planner makes one index
lookup per key: a row-value IN list of 500 pairs cost 170-400 ms a batch
there, the join on unnest a few); SQLite keeps bounded IN lists, one per
column of a composite key, so that it searches the primary key instead of
scanning the table.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, TypeVar

from sqlalchemy import Column, ColumnElement, Select, String, Table, and_, any_, bindparam, func, select, tuple_
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session
from sqlalchemy.types import TypeDecorator

T = TypeVar("T")

# Bound parameters per IN-list; SQLite allows 32766 and PostgreSQL 65535 in all.
CHUNK = 500
# Below this many rows an executemany beats COPY on PostgreSQL (a batch of a few applications).
_COPY_FROM_ROWS = 16


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
            if len(columns) == 1:
                return [stmt.where(columns[0].in_([key[0] for key in chunk])) for chunk in chunks(unique)]
            # SQLite answers a row-value IN list by scanning the whole table (8 s a batch with a million
            # students' loans); an IN list per column lets it probe the primary key, and the row-value
            # IN, checked on what the probes find, keeps the answer exact.
            return [
                stmt.where(
                    *(column.in_(sorted({key[i] for key in chunk})) for i, column in enumerate(columns)),
                    tuple_(*columns).in_(chunk),
                )
                for chunk in chunks(unique)
            ]
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

    def upsert(self, table: Table, rows: Sequence[dict[str, Any]], update: Sequence[str]) -> None:
        """Insert ``rows``, or where a row's primary key exists set its ``update`` columns: one statement.

        On PostgreSQL the rows travel as one array per column into
        ``INSERT ... SELECT FROM unnest(...) ON CONFLICT DO UPDATE`` (one statement, where a
        pipelined executemany sends one per row); on SQLite an executemany. Keys must be unique
        within ``rows``. Every row has the same columns.
        """
        if not rows:
            return
        primary = [c.name for c in table.primary_key.columns]
        if not self.postgresql or len(rows) == 1:
            stmt = self.insert(table)
            stmt = stmt.on_conflict_do_update(index_elements=primary, set_={n: stmt.excluded[n] for n in update})
            self.session.execute(stmt, list(rows))
            return
        quote = self.session.get_bind().dialect.identifier_preparer.quote
        rows = _with_defaults(table, rows)
        names = list(rows[0])
        sql = (
            f"INSERT INTO {quote(table.name)} ({', '.join(quote(n) for n in names)}) "
            f"SELECT * FROM unnest({self._arrays(table, names)}) "
            f"ON CONFLICT ({', '.join(quote(n) for n in primary)}) DO UPDATE SET "
            + ", ".join(f"{quote(n)} = EXCLUDED.{quote(n)}" for n in update)
        )
        self.session.connection().exec_driver_sql(sql, self._columns(table, names, rows))

    def insert_new(self, table: Table, rows: Sequence[dict[str, Any]]) -> set[tuple[Any, ...]]:
        """Insert the rows whose primary key is not taken (PostgreSQL); return the primary keys inserted.

        One ``INSERT ... SELECT FROM unnest(...) ON CONFLICT DO NOTHING RETURNING`` of the key.
        """
        assert self.postgresql, "SQLite's one writer needs no such statement: read, then insert"
        quote = self.session.get_bind().dialect.identifier_preparer.quote
        names = list(rows[0])
        primary = ", ".join(quote(c.name) for c in table.primary_key.columns)
        sql = (
            f"INSERT INTO {quote(table.name)} ({', '.join(quote(n) for n in names)}) "
            f"SELECT * FROM unnest({self._arrays(table, names)}) ON CONFLICT DO NOTHING RETURNING {primary}"
        )
        result = self.session.connection().exec_driver_sql(sql, self._columns(table, names, rows))
        return {tuple(row) for row in result}

    def update_many(self, table: Table, key: str, rows: Sequence[dict[str, Any]]) -> None:
        """Set columns of existing rows, each found by its ``key`` column: in order, the last row for a key wins.

        One ``UPDATE ... FROM unnest(...)`` on PostgreSQL, an executemany on SQLite.
        """
        if not rows:
            return
        names = list(rows[0])
        if not self.postgresql or len(rows) == 1:
            stmt = (
                table.update()
                .where(table.c[key] == bindparam(f"b_{key}"))
                .values({n: bindparam(n) for n in names if n != key})
            )
            self.session.execute(stmt, [{**{n: r[n] for n in names if n != key}, f"b_{key}": r[key]} for r in rows])
            return
        last = list({row[key]: row for row in rows}.values())  # one row per key: UPDATE ... FROM takes any of several
        quote = self.session.get_bind().dialect.identifier_preparer.quote
        sql = (
            f"UPDATE {quote(table.name)} AS t SET "
            + ", ".join(f"{quote(n)} = u.{quote(n)}" for n in names if n != key)
            + f" FROM unnest({self._arrays(table, names)}) AS u({', '.join(quote(n) for n in names)})"
            + f" WHERE t.{quote(key)} = u.{quote(key)}"
        )
        self.session.connection().exec_driver_sql(sql, self._columns(table, names, last))

    def _arrays(self, table: Table, names: Sequence[str]) -> str:
        """One array placeholder per column, cast to the column's type."""
        dialect = self.session.get_bind().dialect
        return ", ".join(f"%s::{table.c[n].type.compile(dialect=dialect)}[]" for n in names)

    def _columns(self, table: Table, names: Sequence[str], rows: Sequence[dict[str, Any]]) -> tuple[list[Any], ...]:
        """The rows' values column by column, each through its column type's bind processing."""
        dialect = self.session.get_bind().dialect
        columns: list[list[Any]] = []
        for name in names:
            process = _processor(table.c[name], dialect)
            values = [row[name] for row in rows]
            columns.append([process(v) for v in values] if process is not None else values)
        return tuple(columns)

    def insert_many(self, table: Table, rows: Sequence[dict[str, Any]]) -> None:
        """Insert ``rows`` in order: COPY on PostgreSQL (half the time of an executemany), executemany on SQLite.

        A few rows go as an executemany on PostgreSQL too: opening a COPY costs more than they do.
        """
        if not rows:
            return
        if not self.postgresql or len(rows) < _COPY_FROM_ROWS:
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


# By (dialect, table, column) names: a Column's == builds SQL, so it is no dictionary key.
_PROCESSORS: dict[tuple[str, str, str], Any] = {}


def _processor(column: Column[Any], dialect: Any) -> Any:
    """The column type's bind processor for ``dialect`` (None where values go as they are), kept per column."""
    key = (dialect.name, column.table.name, column.name)
    if key not in _PROCESSORS:
        _PROCESSORS[key] = column.type.bind_processor(dialect)
    return _PROCESSORS[key]


def _with_defaults(table: Table, rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """``rows`` with the column defaults an ORM or Core insert would have filled in for the columns they lack."""
    missing = [c for c in table.columns if c.key not in rows[0] and c.default is not None]
    if not missing:
        return list(rows)
    filled = []
    for row in rows:
        extra = {}
        for column in missing:
            default = column.default
            assert default is not None
            extra[column.key] = default.arg(None) if default.is_callable else default.arg  # type: ignore[operator]
        filled.append({**row, **extra})
    return filled
