"""Reading FOLIO's Kafka topics: a consumer on FOLIO's cluster, settings of its own.

FOLIO's cluster may be another cluster than the service's, so nothing here comes from
``CLEARANCE_KAFKA_*``. One consumer subscribes by pattern to the tenant's loan and
user domain-event topics and to every ``FEE_FINE_BALANCE_CHANGED`` pub-sub topic
(``{env}.pub-sub.{tenant}.FEE_FINE_BALANCE_CHANGED.<module-name-version>``: a new
mod-feesfines version is a new topic). Offsets are committed only when the bridge
says so, after our broker acknowledged what the records became.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

import structlog
from kafka import KafkaConsumer, TopicPartition
from kafka.consumer.fetcher import ConsumerRecord

log = structlog.get_logger("clearance.connectors.folio")

SecurityProtocol = Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]


class Stream(StrEnum):
    """Which FOLIO stream a topic belongs to."""

    LOANS = "loans"
    USERS = "users"
    FINES = "fines"


@dataclass(frozen=True, slots=True)
class FolioTopics:
    """FOLIO's topic names for one environment and tenant (``{ENV}.{tenant}.{module}.{topic}``)."""

    env: str
    tenant: str

    @property
    def loans(self) -> str:
        return f"{self.env}.{self.tenant}.circulation.loan"

    @property
    def users(self) -> str:
        return f"{self.env}.{self.tenant}.users.users"

    @property
    def fines_prefix(self) -> str:
        return f"{self.env}.pub-sub.{self.tenant}.FEE_FINE_BALANCE_CHANGED."

    @property
    def pattern(self) -> str:
        """The subscription pattern: the two domain-event topics and every balance-change topic."""
        return f"^(?:{re.escape(self.loans)}|{re.escape(self.users)}|{re.escape(self.fines_prefix)}.+)$"

    def stream(self, topic: str) -> Stream | None:
        if topic == self.loans:
            return Stream.LOANS
        if topic == self.users:
            return Stream.USERS
        if topic.startswith(self.fines_prefix):
            return Stream.FINES
        return None


@dataclass(frozen=True, slots=True)
class FolioKafka:
    """How to reach FOLIO's Kafka cluster and under which consumer group."""

    bootstrap_servers: str
    group_id: str
    security_protocol: SecurityProtocol = "PLAINTEXT"
    sasl_mechanism: str | None = None
    sasl_username: str | None = None
    sasl_password: str | None = None
    ssl_cafile: str | None = None
    session_timeout_ms: int = 10_000
    heartbeat_interval_ms: int = 3_000

    def client_options(self) -> dict[str, object]:
        options: dict[str, object] = {
            "bootstrap_servers": self.bootstrap_servers.split(","),
            "client_id": "clearance-folio-bridge",
            "security_protocol": self.security_protocol,
        }
        if self.security_protocol.startswith("SASL"):
            options["sasl_mechanism"] = self.sasl_mechanism or "PLAIN"
            options["sasl_plain_username"] = self.sasl_username
            options["sasl_plain_password"] = self.sasl_password
        if self.ssl_cafile:
            options["ssl_cafile"] = self.ssl_cafile
        return options


class FolioSource:
    """The bridge's consumer on FOLIO's topics; made on first use, so a cluster that is down is waited out.

    The consumer subscribes to the matching topics by name, listed on the cluster, not by
    pattern: a pattern subscription rejoins the group in place whenever a topic appears,
    and a broker may leave that rejoin unanswered (the embedded Tansu did, so the bridge
    got no partitions at all). The list is read again every ``relist_seconds`` (every poll
    while nothing matches yet: FOLIO makes its topics when it first writes to them); when it
    changed, a new member subscribed to the new list joins in the old one's place. The
    bridge commits after every batch, so the new member reads on from what was committed.
    """

    def __init__(
        self,
        kafka: FolioKafka,
        topics: FolioTopics,
        *,
        relist_seconds: float = 60.0,
    ) -> None:
        self.kafka = kafka
        self.topics = topics
        self.relist_seconds = relist_seconds
        self._pattern = re.compile(topics.pattern)
        self._consumer: KafkaConsumer | None = None
        self._subscribed: list[str] = []
        self._listed_at = float("-inf")

    @property
    def consumer(self) -> KafkaConsumer:
        if self._consumer is None:
            consumer = KafkaConsumer(
                **self.kafka.client_options(),
                group_id=self.kafka.group_id,
                enable_auto_commit=False,
                auto_offset_reset="earliest",
                session_timeout_ms=self.kafka.session_timeout_ms,
                heartbeat_interval_ms=self.kafka.heartbeat_interval_ms,
                fetch_max_wait_ms=100,
            )
            try:
                self._subscribe(consumer, self._list(consumer))
            except BaseException:
                consumer.close(autocommit=False)
                raise
            self._consumer = consumer
        return self._consumer

    @property
    def subscribed(self) -> list[str]:
        """The topics the current member subscribed to."""
        return list(self._subscribed)

    def _list(self, consumer: KafkaConsumer) -> list[str]:
        self._listed_at = time.monotonic()
        return sorted(name for name in consumer.topics() if self._pattern.match(name))

    def _subscribe(self, consumer: KafkaConsumer, names: list[str]) -> None:
        if names:
            consumer.subscribe(topics=names)
        self._subscribed = names

    def _renew(self) -> None:
        """Leave the group and join again as a new member, subscribed to the list as read now."""
        assert self._consumer is not None
        before = self._subscribed
        self._consumer.close(autocommit=False)
        self._consumer = None
        self.consumer  # noqa: B018 - made and subscribed here, not at the next poll's leisure
        log.info("folio.topics_changed", subscribed=before, now=self._subscribed)

    def _relist(self) -> None:
        """Subscribe anew when the matching topics changed; looked at once ``relist_seconds``, or until one exists."""
        consumer = self.consumer
        waiting = not self._subscribed
        if not waiting and time.monotonic() - self._listed_at < self.relist_seconds:
            return
        names = self._list(consumer)
        if names == self._subscribed:
            return
        if waiting:
            self._subscribe(consumer, names)  # the first topics: no member to leave yet
        else:
            self._renew()

    def poll(self, max_records: int, timeout_ms: int) -> list[ConsumerRecord]:
        """The next records, in each partition's order."""
        self._relist()
        if not self._subscribed:  # no FOLIO topic exists yet: wait as a poll would, then look again
            time.sleep(timeout_ms / 1000)
            return []
        batches = self.consumer.poll(timeout_ms=timeout_ms, max_records=max_records)
        return [record for tp in sorted(batches) for record in batches[tp]]

    def assigned(self) -> bool:
        return bool(self.consumer.assignment())

    def caught_up(self) -> bool:
        """Every assigned partition has been read to its end."""
        assignment = self.consumer.assignment()
        if not assignment:
            return False
        ends = self.consumer.end_offsets(list(assignment))
        return all(self.consumer.position(tp) >= end for tp, end in ends.items())

    def commit(self) -> None:
        """Commit what was polled: call only after its events were acknowledged and its state written."""
        self.consumer.commit()

    def rewind(self, records: list[ConsumerRecord]) -> None:
        """Seek back to the first of ``records`` in each partition, so a failed batch is read again."""
        if self._consumer is None:
            return
        first: dict[TopicPartition, int] = {}
        for record in records:
            tp = TopicPartition(record.topic, record.partition)
            first[tp] = min(first.get(tp, record.offset), record.offset)
        assignment = self._consumer.assignment()
        for tp, offset in first.items():
            if tp in assignment:
                self._consumer.seek(tp, offset)

    def close(self) -> None:
        """Leave the group without committing anything more."""
        if self._consumer is not None:
            self._consumer.close(autocommit=False)
            self._consumer = None
            self._subscribed = []
