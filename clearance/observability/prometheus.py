"""Prometheus counters of what the consumers and the relay report through the Observer protocol.

Events consumed by topic and type, dead letters by kind, decisions by outcome,
certificates issued and revoked, rows set aside, faults of the service, and the
decision latency (the source time of the fact behind a message to the broker's
acknowledgement of that message).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from clearance.observability.observer import Published

if TYPE_CHECKING:
    from clearance.services.results import BatchResult

# From a few hundred milliseconds (the fact arrives, the decision is published) to days (a
# blocked student returns the last book long after applying: latency runs from that return).
LATENCY_BUCKETS = (0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 6 * 3600, 24 * 3600, 7 * 24 * 3600)


class PrometheusObserver:
    """Counts what the consumers and the relay report (an :class:`~clearance.observability.observer.Observer`)."""

    def __init__(self, registry: CollectorRegistry, deployed_name: Callable[[str], str] = str) -> None:
        self._deployed = deployed_name
        self.consumed = Counter(
            "clearance_events_consumed", "Inbound events applied, by topic and type.", ["topic", "type"],
            registry=registry,
        )  # fmt: skip
        self.duplicates = Counter(
            "clearance_events_duplicate", "Inbound events dropped as already applied (same source and id).",
            ["topic"], registry=registry,
        )  # fmt: skip
        self.dead_lettered = Counter(
            "clearance_dead_lettered", "Records sent to the dead-letter topic, by origin topic and error kind.",
            ["topic", "kind"], registry=registry,
        )  # fmt: skip
        self.decisions = Counter(
            "clearance_decisions", "Applications evaluated, by outcome (status).", ["outcome"], registry=registry
        )
        self.issued = Counter("clearance_certificates_issued", "Certificates issued.", registry=registry)
        self.revoked = Counter("clearance_certificates_revoked", "Certificates revoked.", registry=registry)
        self.batch_seconds = Histogram(
            "clearance_batch_duration_seconds", "Time to apply one poll batch in one transaction.", ["topic"],
            registry=registry,
        )  # fmt: skip
        self.batch_failures = Counter(
            "clearance_batch_failures", "Batches that failed to apply (transient: an outage to wait out).",
            ["topic", "transient"], registry=registry,
        )  # fmt: skip
        self.published_messages = Counter(
            "clearance_messages_published", "Messages the broker acknowledged, by topic and type.", ["topic", "type"],
            registry=registry,
        )  # fmt: skip
        self.latency = Histogram(
            "clearance_decision_latency_seconds",
            "From the source time of the fact that led to a message (a returned book, an accepted deposit) "
            "to the broker acknowledging the message, by message type.",
            ["type"], buckets=LATENCY_BUCKETS, registry=registry,
        )  # fmt: skip

        self.set_aside_rows = Counter(
            "clearance_outbox_set_aside", "Outbox rows the broker refused for good, set aside, by topic and type.",
            ["topic", "type"], registry=registry,
        )  # fmt: skip
        self.faults = Counter(
            "clearance_service_faults", "Faults of the service itself (signing key, disk), waited out, by worker.",
            ["worker"], registry=registry,
        )  # fmt: skip
        self.positions_failures = Counter(
            "clearance_positions_not_saved", "Idle positions that could not be stored, by topic.", ["topic"],
            registry=registry,
        )  # fmt: skip
        self.trust_open = Gauge(
            "clearance_trust_open", "1 while the service runs without a trust file and believes every producer (G11).",
            registry=registry,
        )  # fmt: skip
        # Faults in progress, by worker: the service is not ready while any lasts.
        self.active_faults: dict[str, str] = {}
        self._lock = threading.Lock()

    def set_aside(self, rows: Sequence[tuple[str, str]]) -> None:
        for event_type, topic in rows:
            self.set_aside_rows.labels(topic=self._deployed(topic), type=event_type).inc()

    def service_fault(self, worker: str, error: BaseException | None) -> None:
        with self._lock:
            if error is None:
                self.active_faults.pop(worker, None)
                return
            self.faults.labels(worker=worker).inc()
            self.active_faults[worker] = f"{type(error).__name__}: {error}"[:300]

    def positions_not_saved(self, topic: str, error: BaseException) -> None:
        self.positions_failures.labels(topic=topic).inc()

    def batch_applied(self, topic: str, result: BatchResult, seconds: float) -> None:
        for event_type, count in result.consumed.items():
            self.consumed.labels(topic=topic, type=event_type).inc(count)
        if result.duplicates:
            self.duplicates.labels(topic=topic).inc(result.duplicates)
        for kind, count in result.dead_letter_kinds.items():
            self.dead_lettered.labels(topic=topic, kind=kind).inc(count)
        self._decided(result)
        self.batch_seconds.labels(topic=topic).observe(seconds)

    def swept(self, result: BatchResult) -> None:
        # The freshness sweeper decides about held applications: no events, only decisions.
        self._decided(result)

    def _decided(self, result: BatchResult) -> None:
        for outcome, count in result.outcomes.items():
            self.decisions.labels(outcome=outcome).inc(count)
        if result.issued:
            self.issued.inc(len(result.issued))
        if result.revoked:
            self.revoked.inc(len(result.revoked))

    def batch_failed(self, topic: str, error: BaseException, transient: bool) -> None:
        self.batch_failures.labels(topic=topic, transient=str(transient).lower()).inc()

    def published(self, messages: Sequence[Published]) -> None:
        for message in messages:
            self.published_messages.labels(topic=self._deployed(message.topic), type=message.type).inc()
            if message.trigger_time is not None:
                seconds = (message.published_at - message.trigger_time).total_seconds()
                # A source clock ahead of ours gives a negative span: count it as immediate.
                self.latency.labels(type=message.type).observe(max(0.0, seconds))
