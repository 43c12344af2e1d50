"""The unit of work: one transaction, committed explicitly or rolled back."""

from __future__ import annotations

from types import TracebackType

from sqlalchemy.orm import Session, sessionmaker

from clearance.store.repository import Repository


class UnitOfWork:
    """``with uow:`` opens a session; nothing is kept unless :meth:`commit` is called."""

    def __init__(self, session_factory: sessionmaker[Session]) -> None:
        self._factory = session_factory
        self.session: Session | None = None
        self.repo: Repository

    def __enter__(self) -> UnitOfWork:
        self.session = self._factory()
        self.repo = Repository(self.session)
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        assert self.session is not None
        try:
            self.session.rollback()
        finally:
            self.session.close()
            self.session = None

    def commit(self) -> None:
        assert self.session is not None
        self.session.commit()

    def flush(self) -> None:
        assert self.session is not None
        self.repo.write_pending()
        self.session.flush()
