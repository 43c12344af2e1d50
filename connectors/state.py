"""A connector's durable state: a small key/value table, JSON values, in a database of its own."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Column, DateTime, MetaData, String, Table, Text, create_engine, delete, insert, select
from sqlalchemy.engine import make_url

_metadata = MetaData()

connector_state = Table(
    "connector_state",
    _metadata,
    Column("connector", String(100), primary_key=True),
    Column("key", String(500), primary_key=True),
    Column("value", Text, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

# Keeps one statement's bound parameters under SQLite's and PostgreSQL's limits.
_CHUNK = 500


def _chunks(items: list[str]) -> Iterable[list[str]]:
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]


def _engine_url(url: str) -> str:
    # A bare postgresql:// URL would ask for psycopg2; the project ships psycopg 3.
    parsed = make_url(url)
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


class StateStore:
    """The connector's durable state (checkpoint and what it last published), a small
    SQLAlchemy table (``connector_state``) in its own database: ``--state-url``, by default
    ``sqlite:///connector-<name>.db``. Values are JSON. The caller writes only after the
    broker acknowledged what they record. Several connectors may share one database:
    each sees only its own rows.
    """

    def __init__(self, url: str, connector: str) -> None:
        self.connector = connector
        self.engine = create_engine(_engine_url(url), future=True, pool_pre_ping=True)
        _metadata.create_all(self.engine, checkfirst=True)

    def get(self, key: str) -> Any | None:
        """The value stored under ``key``, or None."""
        with self.engine.connect() as conn:
            raw = conn.execute(
                select(connector_state.c.value).where(
                    connector_state.c.connector == self.connector, connector_state.c.key == key
                )
            ).scalar_one_or_none()
        return None if raw is None else json.loads(raw)

    def get_many(self, keys: Iterable[str]) -> dict[str, Any | None]:
        """The values of ``keys`` (None for those not stored), in one query per few hundred keys."""
        wanted = sorted(set(keys))
        found: dict[str, Any | None] = dict.fromkeys(wanted)
        with self.engine.connect() as conn:
            for chunk in _chunks(wanted):
                query = select(connector_state.c.key, connector_state.c.value).where(
                    connector_state.c.connector == self.connector, connector_state.c.key.in_(chunk)
                )
                found.update({key: json.loads(value) for key, value in conn.execute(query)})
        return found

    def scan(self, prefix: str) -> dict[str, Any]:
        """Every key starting with ``prefix`` (taken literally: ``%`` and ``_`` are not wildcards) and its value."""
        query = select(connector_state.c.key, connector_state.c.value).where(
            connector_state.c.connector == self.connector,
            connector_state.c.key.startswith(prefix, autoescape=True),
        )
        with self.engine.connect() as conn:
            return {key: json.loads(value) for key, value in conn.execute(query)}

    def put(self, values: Mapping[str, Any | None]) -> None:
        """Write every key in one transaction; a value of None deletes its key."""
        if not values:
            return
        keys = list(values)
        now = datetime.now(UTC)
        rows = [
            {"connector": self.connector, "key": k, "value": json.dumps(v, separators=(",", ":")), "updated_at": now}
            for k, v in values.items()
            if v is not None
        ]
        with self.engine.begin() as conn:
            for chunk in _chunks(keys):
                conn.execute(
                    delete(connector_state).where(
                        connector_state.c.connector == self.connector, connector_state.c.key.in_(chunk)
                    )
                )
            for start in range(0, len(rows), _CHUNK):
                conn.execute(insert(connector_state), rows[start : start + _CHUNK])

    def close(self) -> None:
        """Release the database connections."""
        self.engine.dispose()
