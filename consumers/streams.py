"""Which deployed topics each inbound family is read from: its shared topic and its per-producer topics.

A per-producer topic ``<topic>.<producer>`` (docs/contract.md#topics) is read when
the trust file names it (a glob may name several); without a trust file only the
shared topics are read. The consumer loops list the matching topics on the broker
again every ``CLEARANCE_KAFKA_METADATA_MAX_AGE_MS`` and start a fresh consumer when
one appears, so a per-producer topic made after the service started is read too.
"""

from __future__ import annotations

import re

from clearance.domain.trust import TrustPolicy, family_of, glob_pattern
from clearance.settings import Settings
from schemas.registry import INBOUND_TOPICS, Topic

FAMILIES = tuple(t.value for t in INBOUND_TOPICS)


class Streams:
    """The inbound streams of one deployment (prefix) under one trust policy (or none: open)."""

    def __init__(self, settings: Settings, trust: TrustPolicy | None) -> None:
        self.settings = settings
        self.trust = trust

    def globs(self, family: Topic) -> tuple[str, ...]:
        """The stream names (globs, without the prefix) read for ``family``."""
        named = self.trust.topics_of(family.value) if self.trust is not None else ()
        return tuple(dict.fromkeys([family.value, *named]))

    def pattern(self, *families: Topic) -> str:
        """An anchored regular expression of the deployed names of ``families``' streams."""
        alternatives = [glob_pattern(g) for family in families for g in self.globs(family)]
        return f"^{re.escape(self.settings.topic_prefix)}(?:{'|'.join(alternatives)})$"

    def named(self, *families: Topic) -> list[str]:
        """The deployed names the trust file spells out in full (no glob): topics to create."""
        return [self.settings.topic_prefix + g for family in families for g in self.globs(family) if "*" not in g]

    def stream(self, deployed: str) -> str:
        """The stream a deployed topic name stands for (the name without the prefix)."""
        return self.settings.stream(deployed) or deployed

    @staticmethod
    def family(stream: str) -> Topic | None:
        """The inbound family of a stream (``library.circulation.fk-teknik`` is ``library.circulation``)."""
        found = family_of(stream, FAMILIES)
        return Topic(found) if found is not None else None
