"""Fixtures of the SLiMS connector tests: a fresh SLiMS database on MariaDB, its desk, and a connector
on a real broker with its own topic prefix."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from slims_desk import Desk, fresh_slims_database
from slims_library import Library


@pytest.fixture
def slims_url() -> Iterator[str]:
    with fresh_slims_database() as url:
        yield url


@pytest.fixture
def desk(slims_url: str) -> Iterator[Desk]:
    d = Desk(slims_url)
    yield d
    d.close()


@pytest.fixture
def library(slims_url: str, kafka_bootstrap: str, tmp_path: Path) -> Library:
    return Library(slims_url, kafka_bootstrap, f"sqlite:///{tmp_path / 'connector-slims.db'}")
