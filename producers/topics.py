"""Creating the service's topics when they are missing."""

from __future__ import annotations

from collections.abc import Sequence

import structlog
from kafka import KafkaAdminClient
from kafka.admin import NewTopic
from kafka.errors import TopicAlreadyExistsError

from clearance.settings import Settings
from schemas.registry import Topic

log = structlog.get_logger("clearance.topics")


def ensure_topics(settings: Settings, per_producer: Sequence[str] = ()) -> list[str]:
    """Create every topic of the contract (with the prefix) that does not exist; return those created.

    ``per_producer`` are deployed names of per-producer topics the trust file names: created with
    the others, so the service reads them from their first record.
    """
    admin = KafkaAdminClient(**settings.kafka_client_options())
    try:
        existing = set(admin.list_topics())
        wanted = dict.fromkeys([*(settings.topic(t) for t in Topic), *per_producer])
        missing = [name for name in wanted if name not in existing]
        created = []
        for name in missing:
            try:
                admin.create_topics(
                    [NewTopic(name, settings.topic_partitions, settings.topic_replication_factor)],
                    validate_only=False,
                )
                created.append(name)
            except TopicAlreadyExistsError:
                pass  # another instance created it first
        if created:
            log.info("topics_created", topics=created, partitions=settings.topic_partitions)
        return created
    finally:
        admin.close()
