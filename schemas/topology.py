"""The recommended layout of every topic: partitions, key and retention (SPEC §4.2).

One place for what operators create by hand: ``deploy/topics.yaml``, the
compose topic initialiser, the Strimzi ``KafkaTopic`` resources and the
AsyncAPI document's Kafka bindings all say the same, and tests hold them to
this table. ``clearance run`` itself creates missing topics with
``CLEARANCE_TOPIC_PARTITIONS`` instead; partitions bound how many instances
share one topic's work.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from schemas.registry import INBOUND_TOPICS, Topic

_DAY_MS = 24 * 3600 * 1000


@dataclass(frozen=True, slots=True)
class TopicLayout:
    """How one topic is laid out and keyed."""

    topic: Topic
    direction: Literal["in", "out"]
    key: str
    partitions: int
    config: dict[str, str] = field(default_factory=dict)


LAYOUT: dict[Topic, TopicLayout] = {
    t.topic: t
    for t in (
        TopicLayout(Topic.APPLICATIONS, "in", "student id", 6, {"retention.ms": str(30 * _DAY_MS)}),
        TopicLayout(Topic.CIRCULATION, "in", "patron id", 12, {"retention.ms": str(30 * _DAY_MS)}),
        TopicLayout(Topic.DEPOSITS, "in", "student id", 6, {"retention.ms": str(30 * _DAY_MS)}),
        # Certificates are kept for good: a registrar may rebuild its view from the topic.
        TopicLayout(Topic.CERTIFICATES, "out", "student id", 6, {"retention.ms": "-1"}),
        TopicLayout(Topic.STATUS, "out", "student id", 6, {"retention.ms": str(30 * _DAY_MS)}),
        # 90 days to fix what was wrong and replay it.
        TopicLayout(Topic.DEAD_LETTER, "out", "original key", 3, {"retention.ms": str(90 * _DAY_MS)}),
    )
}

for _layout in LAYOUT.values():
    _layout.config.setdefault("cleanup.policy", "delete")


def max_useful_instances() -> int:
    """Instances beyond the largest inbound partition count would sit idle in every consumer group."""
    return max(LAYOUT[t].partitions for t in INBOUND_TOPICS)
