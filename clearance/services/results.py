"""What the services take besides the store, and what they report back."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from clearance.domain.certificate import Signer
from clearance.domain.policy import Policy


class ServiceFault(Exception):
    """A fault of the service itself (its signing key, its disk), not of the message being processed.

    The consumer waits it out like an outage (G10): nothing is committed or dead-lettered.
    """


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A record that could not be applied, and where it came from."""

    origin_topic: str
    origin_partition: int
    origin_offset: int
    key: bytes | None
    value: bytes | None
    kind: str
    message: str


@dataclass(slots=True)
class Context:
    """What a service needs besides the store: policy, key, clock, identity."""

    policy: Callable[[], Policy]
    signing_key: Callable[[], Signer]
    clock: Callable[[], datetime]
    issuer: str
    # How long a clearance may wait for lagging sources before it is decided anyway.
    freshness_max_wait: timedelta = timedelta(seconds=60)
    # The largest record the producer may send (its max_request_size): nothing published is larger.
    max_message_bytes: int = 1_048_576


@dataclass(slots=True)
class BatchResult:
    """What one batch did, for logs, metrics and tests."""

    applied: int = 0
    duplicates: int = 0
    dead_lettered: int = 0
    decisions: int = 0
    issued: list[str] = field(default_factory=list)
    revoked: list[str] = field(default_factory=list)
    messages: int = 0
    consumed: Counter[str] = field(default_factory=Counter)
    dead_letter_kinds: Counter[str] = field(default_factory=Counter)
    outcomes: Counter[str] = field(default_factory=Counter)

    def merge(self, other: BatchResult) -> None:
        """Add another result's counts to this one."""
        self.applied += other.applied
        self.duplicates += other.duplicates
        self.dead_lettered += other.dead_lettered
        self.decisions += other.decisions
        self.issued.extend(other.issued)
        self.revoked.extend(other.revoked)
        self.messages += other.messages
        self.consumed.update(other.consumed)
        self.dead_letter_kinds.update(other.dead_letter_kinds)
        self.outcomes.update(other.outcomes)


@dataclass(slots=True)
class Triggers:
    """The events that touched one student in a batch."""

    ids: list[str] = field(default_factory=list)
    latest: datetime | None = None

    def add(self, event_id: str, time: datetime) -> None:
        """Count one more event that touched the student."""
        self.ids.append(event_id)
        if self.latest is None or time > self.latest:
            self.latest = time

    def extend(self, other: Triggers) -> None:
        """Count another set of events too."""
        self.ids.extend(other.ids)
        if other.latest is not None and (self.latest is None or other.latest > self.latest):
            self.latest = other.latest
