"""Prometheus metrics and the liveness and readiness checks, served on ``CLEARANCE_METRICS_PORT``.

Three parts:

- :class:`PrometheusObserver` counts what the consumers and the relay report
  through the :class:`~clearance.observe.Observer` protocol: events consumed
  by topic and type, dead letters by kind, decisions by outcome, certificates
  issued and revoked, and the decision latency (the source time of the fact
  behind a message to the broker's acknowledgement of that message).
- :class:`Monitor` reads, every few seconds on its own thread, what only the
  store and the broker know: the outbox backlog and the age of its oldest
  row, applications by status, and consumer lag per partition (the broker's
  next offset minus the position stored with the data). Whether those reads
  succeed is the database's and the broker's reachability.
- :class:`MetricsServer` serves ``/metrics``, ``/livez`` and ``/readyz``.

``/livez`` fails only when a worker thread died: an unreachable database or
broker is an outage the service waits out (G10), and restarting it would not
help. ``/readyz`` fails while the database or the broker has not answered
recently, or while the service shuts down.

The broker is reached through :class:`BrokerProbe`, so this module stays free
of Kafka; ``consumers.watermarks`` is the implementation.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from socketserver import ThreadingMixIn
from typing import TYPE_CHECKING, Any, Protocol
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import structlog
from prometheus_client import CollectorRegistry, Counter, Histogram, make_wsgi_app
from prometheus_client.core import GaugeMetricFamily
from sqlalchemy.orm import Session, sessionmaker

from clearance.observe import Published
from clearance.settings import Settings
from clearance.store import inspection
from clearance.store.unit_of_work import UnitOfWork
from schemas.registry import INBOUND_TOPICS, Topic

if TYPE_CHECKING:
    from clearance.handlers import BatchResult

log = structlog.get_logger("clearance.metrics")

# From a few hundred milliseconds (the fact arrives, the decision is published) to days (a
# blocked student returns the last book long after applying: latency runs from that return).
LATENCY_BUCKETS = (0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 6 * 3600, 24 * 3600, 7 * 24 * 3600)


class PrometheusObserver:
    """Counts what the consumers and the relay report (an :class:`~clearance.observe.Observer`)."""

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
    backlog: inspection.OutboxBacklog | None = None
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
            with UnitOfWork(self.session_factory) as uow:
                assert uow.session is not None
                backlog = inspection.outbox_backlog(uow.session)
                applications = inspection.application_counts(uow.session)
                positions = uow.repo.applied_positions(t.value for t in INBOUND_TOPICS)
            self.database = Reachability(ok_at=self.clock())
        except Exception as exc:  # any failure to read is the database being unreachable to us
            self.database = Reachability(ok_at=self.database.ok_at, error=_short(exc))
            log.warning("database_check_failed", error=self.database.error)
        try:
            watermarks = self.probe.read()
            self.broker = Reachability(ok_at=self.clock())
            if positions is not None:
                lag = inspection.consumer_lag(watermarks, positions)
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


class _ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True
    allow_reuse_address = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # probes every few seconds would flood the log
        return None


class MetricsServer:
    """``/metrics`` (Prometheus text format), ``/livez`` and ``/readyz`` (JSON) on one port."""

    def __init__(
        self,
        registry: CollectorRegistry,
        live: Callable[[], tuple[bool, dict[str, Any]]],
        ready: Callable[[], tuple[bool, dict[str, Any]]],
    ) -> None:
        self._metrics_app = make_wsgi_app(registry)
        self._checks = {"/livez": live, "/readyz": ready}
        self._server: _ThreadingWSGIServer | None = None
        self._thread: threading.Thread | None = None

    def app(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        """The WSGI application."""
        path = environ.get("PATH_INFO", "/")
        if path == "/metrics":
            return self._metrics_app(environ, start_response)
        check = self._checks.get(path)
        if check is None:
            start_response("404 Not Found", [("Content-Type", "text/plain")])
            return [b"not found: try /metrics, /livez or /readyz\n"]
        ok, detail = check()
        body = json.dumps({"status": "ok" if ok else "failing", "checks": detail}).encode()
        status = "200 OK" if ok else "503 Service Unavailable"
        start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
        return [body]

    def start(self, host: str, port: int) -> int:
        """Listen on ``host:port`` in a background thread; return the port."""
        self._server = make_server(host, port, self.app, _ThreadingWSGIServer, handler_class=_QuietHandler)
        self._thread = threading.Thread(target=self._server.serve_forever, name="metrics-http", daemon=True)
        self._thread.start()
        return int(self._server.server_address[1])

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


class ServiceMetrics:
    """Everything the service exposes on its metrics port, wired to one service instance."""

    def __init__(self, settings: Settings, session_factory: sessionmaker[Session], probe: BrokerProbe) -> None:
        self.settings = settings
        # A registry per service (not the process-wide default): tests run several in one process.
        self.registry = CollectorRegistry()
        self.observer = PrometheusObserver(self.registry, lambda logical: settings.topic(Topic(logical)))
        self.monitor = Monitor(settings, session_factory, probe)
        self.registry.register(self.monitor)
        self._workers: Callable[[], Mapping[str, bool]] = dict
        self._stopping: Callable[[], bool] = lambda: False
        self.server = MetricsServer(self.registry, self.live, self.ready)
        self.port: int | None = None

    def live(self) -> tuple[bool, dict[str, Any]]:
        """Alive while every worker thread runs (a dead one stops the process anyway)."""
        workers = dict(self._workers())
        return all(workers.values()), {"workers": workers}

    def ready(self) -> tuple[bool, dict[str, Any]]:
        """Ready while the database and the broker answer and the service is not shutting down."""
        ok, checks = self.monitor.ready()
        stopping = self._stopping()
        checks["stopping"] = stopping
        return ok and not stopping, checks

    def start(self, stop: threading.Event, workers: Callable[[], Mapping[str, bool]]) -> None:
        """Serve the endpoint and start the monitor; a port that cannot be bound is logged, not fatal."""
        self._workers = workers
        self._stopping = stop.is_set
        self.monitor.start(stop)
        try:
            self.port = self.server.start(self.settings.metrics_host, self.settings.metrics_port)
        except OSError as exc:
            log.error(
                "metrics_endpoint_unavailable",
                host=self.settings.metrics_host,
                port=self.settings.metrics_port,
                error=str(exc),
            )
            return
        log.info("metrics_endpoint_started", host=self.settings.metrics_host, port=self.port)

    def close(self) -> None:
        self.server.stop()
        self.monitor.probe.close()
