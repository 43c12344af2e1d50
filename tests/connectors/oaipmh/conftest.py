"""Fixtures of the OAI-PMH connector's tests: a real pyoai data provider, and the connector on a real broker."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from oai_harvest import Harvest
from oai_repository import Repository, serve

from clearance.settings import Settings
from connectors.runtime import Publisher, StateStore
from schemas.registry import Topic


@pytest.fixture
def repository() -> Repository:
    return Repository()


@pytest.fixture
def oai_url(repository: Repository) -> Iterator[str]:
    """The repository served over OAI-PMH, ten records a response (so a list of more needs resumption tokens)."""
    with serve(repository, batch_size=10) as url:
        yield url


@pytest.fixture
def harvest(oai_url: str, kafka_bootstrap: str, tmp_path: Path) -> Iterator[Harvest]:
    """The connector on the served repository, publishing to a topic of its own, its state in SQLite."""
    settings = Settings(kafka_bootstrap_servers=kafka_bootstrap, topic_prefix=f"t{uuid.uuid4().hex[:10]}.")
    state = StateStore(f"sqlite:///{tmp_path / 'connector-oai-pmh.db'}", "oai-pmh")
    publisher = Publisher(settings, settings.topic(Topic.DEPOSITS))
    yield Harvest(oai_url, kafka_bootstrap, settings.topic(Topic.DEPOSITS), state, publisher)
    publisher.close()
    state.close()
