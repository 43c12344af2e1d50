"""Fixtures shared by every test: real databases and a real broker."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from harness import Harness, settings_for
from services import fresh_postgres_database, kafka_broker

from clearance.store.engine import make_engine, make_session_factory
from clearance.store.migrate import upgrade


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A migrated, empty database: every store test runs on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'clearance.db'}"
        upgrade(url)
        yield url
        return
    with fresh_postgres_database() as url:
        upgrade(url)
        yield url


@pytest.fixture
def session_factory(database_url: str):
    engine = make_engine(database_url)
    yield make_session_factory(engine)
    engine.dispose()


@pytest.fixture(scope="session")
def kafka_bootstrap() -> Iterator[str]:
    """Bootstrap servers of a real broker, shared by the session's tests (topics are prefixed per test)."""
    with kafka_broker() as servers:
        yield servers


@pytest.fixture
def harness(kafka_bootstrap: str, tmp_path: Path) -> Iterator[Harness]:
    """A harness for a service the test starts itself (SQLite, its own topics and groups)."""
    h = Harness(settings_for(kafka_bootstrap, f"sqlite:///{tmp_path / 'clearance.db'}", tmp_path))
    yield h
    h.stop()
