"""End-to-end fixtures: the service on a real broker, on SQLite or PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from harness import Harness, settings_for
from services import fresh_postgres_database


@pytest.fixture(params=["sqlite", "postgresql"])
def e2e_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'clearance.db'}"
        return
    with fresh_postgres_database() as url:
        yield url


@pytest.fixture(scope="module")
def shared_service(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Harness]:
    """One running service (SQLite) for the scenarios that need no special set-up; students differ per test."""
    workdir = tmp_path_factory.mktemp("shared-service")
    harness = Harness(settings_for(kafka_bootstrap, f"sqlite:///{workdir / 'clearance.db'}", workdir))
    harness.start()
    yield harness
    harness.stop()
