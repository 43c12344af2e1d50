"""A SLiMS connector under test: library ``central`` publishing to a topic of its own on a real broker."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from topic_reader import read_topic

from clearance.settings import Settings
from connectors.runtime import PassResult, Publisher, StateStore
from connectors.slims.connector import SlimsConnector
from connectors.slims.source import SlimsSource, engine_for
from schemas.registry import Topic, parse_event


@dataclass
class Library:
    """A SLiMS connector for library ``central`` publishing to a topic of its own."""

    slims_url: str
    bootstrap: str
    state_url: str
    prefix: str = field(default_factory=lambda: f"t{uuid.uuid4().hex[:10]}.")
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def settings(self) -> Settings:
        return Settings(kafka_bootstrap_servers=self.bootstrap, topic_prefix=self.prefix)

    @property
    def topic(self) -> str:
        return f"{self.prefix}{Topic.CIRCULATION.value}"

    def connector(self, **overrides: Any) -> SlimsConnector:
        options = {"student_id_column": None, "student_id_pattern": None, **self.options, **overrides}
        source = SlimsSource(engine_for(self.slims_url), options["student_id_column"], options["student_id_pattern"])
        return SlimsConnector(source, library_id="central", currency="IDR", zone=ZoneInfo("Asia/Jakarta"))

    def run_pass(self, state_url: str | None = None, **overrides: Any) -> PassResult:
        connector = self.connector(**overrides)
        publisher = Publisher(self.settings, self.topic)
        state = StateStore(state_url or self.state_url, "slims")
        try:
            return connector.run_pass(publisher, state)
        finally:
            connector.close()
            publisher.close()
            state.close()

    def events(self, at_least: int) -> list[dict[str, Any]]:
        """Every event on the topic, each checked against the contract (parse_event on its topic)."""
        records = read_topic(self.bootstrap, self.topic, at_least=at_least)
        for r in records:
            parse_event(r.value, Topic.CIRCULATION)
            assert r.key == json.loads(r.value)["subject"].encode()
        return [json.loads(r.value) for r in records]
