"""Fixtures of the FOLIO connector's tests: FOLIO's topics on the real broker."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from folio_world import FolioWorld


@pytest.fixture
def folio(kafka_bootstrap: str, tmp_path: Path) -> Iterator[FolioWorld]:
    world = FolioWorld(kafka_bootstrap, tmp_path)
    yield world
    world.close()
