"""The SQLAlchemy unit of work: one transaction, committed explicitly or rolled back."""

from __future__ import annotations

from types import TracebackType

from sqlalchemy.orm import Session, sessionmaker

from clearance.store.decisions import SqlDecisions
from clearance.store.dialect import Dialect
from clearance.store.inbox import SqlInbox
from clearance.store.outbox import SqlOutbox
from clearance.store.pending import PendingWrites
from clearance.store.positions import SqlPositions
from clearance.store.states import SqlStates


class SqlUnitOfWork:
    """``with uow:`` opens a session and its repositories; nothing is kept unless :meth:`commit` is called.

    Certificates, outbox rows, decisions and revocations are deferred
    (:mod:`clearance.store.pending`) and written by :meth:`commit`, or by any
    read of their tables before it.
    """

    session: Session
    dialect: Dialect
    inbox: SqlInbox
    states: SqlStates
    decisions: SqlDecisions
    positions: SqlPositions
    outbox: SqlOutbox

    def __init__(self, session_factory: sessionmaker[Session]) -> None:
        self._factory = session_factory
        self._pending: PendingWrites | None = None

    def __enter__(self) -> SqlUnitOfWork:
        self.session = self._factory()
        self.dialect = Dialect(self.session)
        self._pending = PendingWrites(self.dialect)
        self.inbox = SqlInbox(self.dialect)
        self.states = SqlStates(self.dialect)
        self.decisions = SqlDecisions(self.dialect, self._pending)
        self.positions = SqlPositions(self.dialect)
        self.outbox = SqlOutbox(self.dialect, self._pending)
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            self.session.rollback()
        finally:
            self.session.close()
            self._pending = None

    def flush(self) -> None:
        """Write what is deferred without committing (tools and tests that read back in the same transaction)."""
        assert self._pending is not None
        self._pending.flush()
        self.session.flush()

    def commit(self) -> None:
        """Write what is deferred and commit."""
        assert self._pending is not None
        self._pending.flush()
        self.session.commit()
