"""What only the store and the broker know, read every few seconds: backlog, applications, lag, reachability.

:class:`Monitor` reads, on its own thread, the outbox backlog and the age of its
oldest row, applications by status, and consumer lag per partition (the
broker's next offset minus the position stored with the data). Whether those
reads succeed is the database's and the broker's reachability. The broker is
reached through :class:`BrokerProbe`, so this module stays free of Kafka;
``consumers.watermarks`` is the implementation.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

import structlog
from prometheus_client.core import GaugeMetricFamily
from sqlalchemy.orm import Session, sessionmaker

from clearance.settings import Settings
from clearance.store import views
from clearance.store.unit_of_work import SqlUnitOfWork
from schemas.registry import INBOUND_TOPICS, Topic

log = structlog.get_logger("clearance.metrics")


class BrokerProbe(Protocol):
    """The broker's (first, next) offsets of every inbound partition, by (logical topic, partition)."""

    def read(self) -> Mapping[tuple[str, int], tuple[int, int]]: ...

    def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class Reachability:
    """When a dependency last answered, and what went wrong last."""

    ok_at: float | None = None
    error: str | None = None

    def fresh(self, now: float, within: float) -> bool:
        return self.ok_at is not None and now - self.ok_at <= within and self.error is None


@dataclass(frozen=True, slots=True)
class _Snapshot:
    backlog: views.OutboxBacklog | None = None
    applications: Mapping[str, int] | None = None
    lag: Mapping[tuple[str, int], int] | None = None


class Monitor:
    """Reads the store and the broker periodically; exports gauges and answers the readiness check."""

    def __init__(
        self,
        settings: Settings,
        session_factory: sessionmaker[Session],
        probe: BrokerProbe,
        interval: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.session_factory = session_factory
        self.probe = probe
        self.interval = interval
        self.clock = clock
        # A check that has not succeeded for this long counts as failed, even while it hangs.
        self.stale_after = max(3 * interval, 15.0)
        self.database = Reachability()
        self.broker = Reachability()
        self._snapshot = _Snapshot()
        self._thread: threading.Thread | None = None

    def refresh(self) -> None:
        """Read the store, then the broker; remember what answered."""
        positions: dict[tuple[str, int], int] | None = None
        backlog = applications = lag = None
        try:
            with SqlUnitOfWork(self.session_factory) as uow:
                backlog = views.outbox_backlog(uow.session)
                applications = views.application_counts(uow.session)
                positions = uow.positions.applied(t.value for t in INBOUND_TOPICS)
            self.database = Reachability(ok_at=self.clock())
        except Exception as exc:  # any failure to read is the database being unreachable to us
            self.database = Reachability(ok_at=self.database.ok_at, error=_short(exc))
            log.warning("database_check_failed", error=self.database.error)
        try:
            watermarks = self.probe.read()
            self.broker = Reachability(ok_at=self.clock())
            if positions is not None:
                lag = views.consumer_lag(watermarks, positions)
        except Exception as exc:
            self.broker = Reachability(ok_at=self.broker.ok_at, error=_short(exc))
            log.warning("broker_check_failed", error=self.broker.error)
        self._snapshot = _Snapshot(backlog=backlog, applications=applications, lag=lag)

    def run(self, stop: threading.Event) -> None:
        """Refresh until ``stop`` is set."""
        while not stop.is_set():
            self.refresh()
            stop.wait(self.interval)

    def start(self, stop: threading.Event) -> None:
        self._thread = threading.Thread(target=self.run, args=(stop,), name="metrics-monitor", daemon=True)
        self._thread.start()

    def ready(self) -> tuple[bool, dict[str, Any]]:
        """Whether both the database and the broker answered within the last ``stale_after`` seconds."""
        now = self.clock()
        checks = {}
        for name, state in (("database", self.database), ("broker", self.broker)):
            ok = state.fresh(now, self.stale_after)
            checks[name] = {
                "ok": ok,
                "last_ok_seconds_ago": None if state.ok_at is None else round(now - state.ok_at, 1),
                "error": state.error,
            }
        return all(c["ok"] for c in checks.values()), checks

    def collect(self) -> Iterable[GaugeMetricFamily]:
        now = self.clock()
        snapshot = self._snapshot
        for name, state in (("database", self.database), ("broker", self.broker)):
            yield GaugeMetricFamily(
                f"clearance_{name}_up",
                f"Whether the {name} answered the last check within {self.stale_after:.0f}s.",
                value=1.0 if state.fresh(now, self.stale_after) else 0.0,
            )
        if snapshot.backlog is not None:
            backlog = GaugeMetricFamily(
                "clearance_outbox_backlog", "Messages stored but not yet acknowledged by the broker.", labels=["topic"]
            )
            for topic in Topic:
                backlog.add_metric([self.settings.topic(topic)], snapshot.backlog.by_topic.get(topic.value, 0))
            yield backlog
            yield GaugeMetricFamily(
                "clearance_outbox_oldest_age_seconds",
                "How long the oldest unpublished outbox message has waited (0 when none waits).",
                value=snapshot.backlog.oldest_age_seconds(datetime.now(UTC)),
            )
        if snapshot.applications is not None:
            applications = GaugeMetricFamily("clearance_applications", "Applications by status.", labels=["status"])
            for status, count in sorted(snapshot.applications.items()):
                applications.add_metric([status], count)
            yield applications
        if snapshot.lag is not None:
            lag = GaugeMetricFamily(
                "clearance_consumer_lag",
                "Records on the broker not yet applied, per inbound partition (next offset minus stored position).",
                labels=["topic", "partition"],
            )
            for (topic, partition), value in sorted(snapshot.lag.items()):
                lag.add_metric([self.settings.topic(Topic(topic)), str(partition)], value)
            yield lag


def _short(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {str(exc).splitlines()[0][:300] if str(exc) else ''}"
