"""Engines and sessions for SQLite (the embedded default) and PostgreSQL."""

from __future__ import annotations

import fcntl
from typing import IO, Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from clearance.store.unit_of_work import SqlUnitOfWork


def normalise_url(url: str) -> str:
    """Use psycopg 3 for PostgreSQL whatever driver the URL names (or none)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "postgresql" and parsed.drivername != "postgresql+psycopg":
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not pysqlite, decide when transactions begin.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        # IMMEDIATE takes the write lock up front: two writers never both read
        # and then deadlock upgrading, and every decision sees the last commit.
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine for ``url``, configured for the service's concurrency."""
    url = normalise_url(url)
    backend = make_url(url).get_backend_name()
    if backend == "sqlite":
        engine = create_engine(url, **kwargs)
        _configure_sqlite(engine)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    kwargs.setdefault("pool_size", 10)
    return create_engine(url, **kwargs)


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions that keep loaded values after commit (they are logged and published)."""
    return sessionmaker(bind=engine, expire_on_commit=False, autoflush=False)


class StoreInUse(Exception):
    """Another running service holds this SQLite file."""


class Database:
    """An engine and its sessions; units of work over them."""

    def __init__(self, url: str, **kwargs: Any) -> None:
        self.engine = make_engine(url, **kwargs)
        self.sessions = make_session_factory(self.engine)
        self._claim: IO[bytes] | None = None

    def claim(self) -> None:
        """Hold the database for one running service where it allows only one (a SQLite file).

        The relay and the student lock rely on SQLite's single writer being one process;
        a second service on the same file is refused rather than left to interleave.
        """
        url = self.engine.url
        if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
            return
        handle = open(f"{url.database}.lock", "ab")  # held until close()
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            raise StoreInUse(
                f"another `clearance run` is using {url.database}: SQLite allows one service per file "
                "(stop the other, or use PostgreSQL for several instances)"
            ) from None
        self._claim = handle

    def unit_of_work(self) -> SqlUnitOfWork:
        """A new unit of work (``with db.unit_of_work() as uow: ...``)."""
        return SqlUnitOfWork(self.sessions)

    def close(self) -> None:
        """Release every pooled connection, and the claim on the file if held."""
        self.engine.dispose()
        if self._claim is not None:
            self._claim.close()
            self._claim = None

    def __enter__(self) -> Database:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
