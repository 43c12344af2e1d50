"""A FOLIO cluster's topics on the real test broker (a unique ENV per test), and the FOLIO bridge over them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from folio_records import TENANT
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from topic_reader import Record, read_topic

from clearance.settings import Settings
from connectors.cli import connect
from connectors.folio.bridge import FolioBridge
from connectors.folio.contract import BridgeConfig
from connectors.folio.source import FolioKafka, FolioSource, FolioTopics
from connectors.runtime import PassResult, Publisher, StateStore
from schemas.registry import Topic, parse_event

REPO = Path(__file__).resolve().parents[1]


@dataclass
class FolioWorld:
    """FOLIO's topics under one ENV, our circulation topic under one prefix, on one broker."""

    bootstrap: str
    workdir: Path
    env: str = field(default_factory=lambda: f"e{uuid.uuid4().hex[:10]}")
    prefix: str = field(default_factory=lambda: f"t{uuid.uuid4().hex[:10]}.")
    library_id: str = "central"

    def __post_init__(self) -> None:
        self.topics = FolioTopics(self.env, TENANT)
        self.fines_topic = f"{self.topics.fines_prefix}mod-feesfines-19.2.0"
        self.producer = KafkaProducer(bootstrap_servers=self.bootstrap, acks="all")
        self.group_id = f"{self.env}-bridge"
        self.state_url = f"sqlite:///{self.workdir / f'{self.env}-state.db'}"

    @property
    def settings(self) -> Settings:
        return Settings(kafka_bootstrap_servers=self.bootstrap, topic_prefix=self.prefix, log_format="console")

    @property
    def our_topic(self) -> str:
        return self.settings.topic(Topic.CIRCULATION)

    def send(self, topic: str, *values: bytes, key: str | None = None) -> None:
        """Put records on a FOLIO topic, acknowledged, in order."""
        futures = [self.producer.send(topic, key=key.encode() if key else None, value=v) for v in values]
        self.producer.flush()
        for future in futures:
            future.get(timeout=30)

    def loans(self, *values: bytes) -> None:
        for value in values:  # FOLIO keys loan events by loan id
            self.send(self.topics.loans, value, key=json.loads(value)["data"].get("new", {}).get("id"))

    def users(self, *values: bytes) -> None:
        self.send(self.topics.users, *values)

    def fines(self, *values: bytes) -> None:
        # Keyed by account, so that one account's changes keep their order (one partition).
        for value in values:
            self.send(self.fines_topic, value, key=json.loads(json.loads(value)["eventPayload"])["feeFineId"])

    def kafka(self, group_id: str | None = None) -> FolioKafka:
        return FolioKafka(
            self.bootstrap, group_id or self.group_id, session_timeout_ms=6000, heartbeat_interval_ms=1000
        )

    def bridge(self, group_id: str | None = None, **source_options: float) -> FolioBridge:
        config = BridgeConfig(library_id=self.library_id, tenant=TENANT, currency="IDR")
        source = FolioSource(self.kafka(group_id), self.topics, **source_options)
        return FolioBridge(config, source, poll_timeout_ms=500)

    def run_pass(
        self, group_id: str | None = None, state_url: str | None = None, publisher: Publisher | None = None
    ) -> PassResult:
        """One pass of a fresh bridge (its own consumer), then close it as a stopped process would."""
        bridge = self.bridge(group_id)
        own_publisher = publisher is None
        publisher = publisher or Publisher(self.settings, self.our_topic)
        state = StateStore(state_url or self.state_url, "folio")
        try:
            return bridge.run_pass(publisher, state)
        finally:
            bridge.close()
            state.close()
            if own_publisher:
                publisher.close()

    def published(self, at_least: int, settle: float = 1.0) -> list[dict[str, Any]]:
        """Every event on our topic, each checked against the contract and its key against its subject."""
        records: list[Record] = read_topic(self.bootstrap, self.our_topic, at_least=at_least, settle=settle)
        events = []
        for record in records:
            parsed = parse_event(record.value, Topic.CIRCULATION)
            assert record.key == (parsed.envelope.subject or "").encode()
            events.append(json.loads(record.value))
        return events

    def committed(self, group_id: str | None = None) -> dict[str, int | None]:
        """The group's committed offset per FOLIO partition (None: nothing committed)."""
        consumer = KafkaConsumer(bootstrap_servers=self.bootstrap, group_id=group_id or self.group_id)
        try:
            found: dict[str, int | None] = {}
            for topic in (self.topics.loans, self.topics.users, self.fines_topic):
                for p in consumer.partitions_for_topic(topic) or ():
                    found[f"{topic}/{p}"] = consumer.committed(TopicPartition(topic, p))
            return found
        finally:
            consumer.close()

    def spawn(self, environment: dict[str, str], *extra: str) -> subprocess.Popen:
        """The bridge as its own process, publishing where ``environment``'s CLEARANCE_* say."""
        # `python -m connectors folio` once connectors.cli mounts the command; until then its own module.
        entry = ["-m", "connectors", "folio"] if "folio" in connect.commands else ["-m", "connectors.folio"]
        args = [
            sys.executable, *entry, "--folio-bootstrap-servers", self.bootstrap, "--env", self.env, "--tenant",
            "diku", "--library-id", self.library_id, "--folio-group-id", self.group_id,
            "--folio-session-timeout-ms", "6000", "--folio-heartbeat-interval-ms", "1000",
            "--state-url", self.state_url, "--metrics-port", "0", *extra,
        ]  # fmt: skip
        env = {**environment, "CLEARANCE_LOG_FORMAT": "console"}
        env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")])
        return subprocess.Popen(
            args, cwd=self.workdir, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
        )

    def close(self) -> None:
        self.producer.close()
