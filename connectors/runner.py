"""The pass loop every connector runs: --once or every --interval, signals, back-off, metrics and probes."""

from __future__ import annotations

import json
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from socketserver import ThreadingMixIn
from typing import Any, Protocol
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import structlog
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, make_wsgi_app

from connectors.publisher import Publisher
from connectors.state import StateStore

log = structlog.get_logger("clearance.connectors")

BACKOFF_INITIAL_SECONDS = 1.0
BACKOFF_MAX_SECONDS = 60.0


@dataclass(slots=True)
class PassResult:
    """What one pass did: events the broker acknowledged, rows it could not map."""

    published: int = 0
    unmappable: int = 0


class Connector(Protocol):
    """One foreign system read pass by pass."""

    name: str  # "slims", "folio", "oai-pmh": the metric label

    def run_pass(self, publisher: Publisher, state: StateStore) -> PassResult:
        """Read, map, ``publisher.publish(...)``, THEN ``state.put(...)``; log and count unmappable rows."""
        ...

    def close(self) -> None:
        """Release the connection to the foreign system."""
        ...


class ConnectorMetrics:
    """The Prometheus metrics of one connector, in a registry of their own."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.registry = CollectorRegistry()
        self.published = Counter(
            "clearance_connector_events_published", "Events the broker acknowledged.", ["connector"],
            registry=self.registry,
        ).labels(name)  # fmt: skip
        self.unmappable = Counter(
            "clearance_connector_rows_unmappable", "Source rows that could not be mapped to an event.",
            ["connector"], registry=self.registry,
        ).labels(name)  # fmt: skip
        self.pass_seconds = Histogram(
            "clearance_connector_pass_seconds", "Duration of a pass, failed ones included.", ["connector"],
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900), registry=self.registry,
        ).labels(name)  # fmt: skip
        self.last_success = Gauge(
            "clearance_connector_last_success_timestamp_seconds", "Unix time the last successful pass ended.",
            ["connector"], registry=self.registry,
        ).labels(name)  # fmt: skip
        self.passes_done = 0
        self.last_error: str | None = None

    def ready(self) -> tuple[bool, dict[str, Any]]:
        """Ready once a pass succeeded, and not while the last pass failed."""
        if self.last_error is not None:
            return False, {"status": "failing", "error": self.last_error}
        if self.passes_done == 0:
            return False, {"status": "starting"}
        return True, {"status": "ok", "passes": self.passes_done}


class _ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # probes every few seconds would flood the log
        pass


class MetricsServer:
    """/metrics, /livez and /readyz on a port of their own."""

    def __init__(self, metrics: ConnectorMetrics) -> None:
        self.metrics = metrics
        self._prometheus = make_wsgi_app(metrics.registry)
        self._server: WSGIServer | None = None

    def app(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == "/livez":
            ok, body = True, {"status": "ok", "connector": self.metrics.name}
        elif path == "/readyz":
            ok, body = self.metrics.ready()
        else:
            return self._prometheus(environ, start_response)
        start_response("200 OK" if ok else "503 Service Unavailable", [("Content-Type", "application/json")])
        return [json.dumps(body).encode()]

    def start(self, host: str, port: int) -> int:
        """Serve in a daemon thread; return the bound port."""
        self._server = make_server(host, port, self.app, _ThreadingWSGIServer, handler_class=_QuietHandler)
        threading.Thread(target=self._server.serve_forever, name="connector-metrics", daemon=True).start()
        return self._server.server_port

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


def _install_signals(stop: threading.Event) -> Callable[[], None]:
    """Make SIGTERM and SIGINT set ``stop`` (the pass in hand finishes); return the undo."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None

    def handler(signum: int, _frame: object) -> None:
        log.info("connector_stopping", signal=signal.Signals(signum).name)
        stop.set()

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGTERM, signal.SIGINT)}

    def undo() -> None:
        for sig, old in previous.items():
            signal.signal(sig, old)

    return undo


def _one_pass(connector: Connector, publisher: Publisher, state: StateStore, metrics: ConnectorMetrics) -> bool:
    started = time.monotonic()
    acknowledged = publisher.acknowledged
    try:
        result = connector.run_pass(publisher, state)
    except Exception as exc:
        metrics.pass_seconds.observe(time.monotonic() - started)
        # Batches acknowledged before the failure are on the broker: they count.
        metrics.published.inc(publisher.acknowledged - acknowledged)
        metrics.last_error = repr(exc)[:300]
        log.warning("connector_pass_failed", connector=connector.name, error=metrics.last_error)
        return False
    elapsed = time.monotonic() - started
    metrics.pass_seconds.observe(elapsed)
    metrics.published.inc(result.published)
    metrics.unmappable.inc(result.unmappable)
    metrics.last_success.set(time.time())
    metrics.passes_done += 1
    metrics.last_error = None
    log.info(
        "connector_pass_done",
        connector=connector.name,
        published=result.published,
        unmappable=result.unmappable,
        seconds=round(elapsed, 3),
    )
    return True


def run(
    connector: Connector,
    *,
    publisher: Publisher,
    state: StateStore,
    once: bool,
    interval: float,
    metrics_host: str,
    metrics_port: int,
    stop: threading.Event | None = None,
) -> int:
    """Run passes of ``connector`` and return the process's exit code.

    ``once``: one pass, exit code 0, or 1 if the pass failed. Otherwise a pass every
    ``interval`` seconds until SIGTERM/SIGINT (or ``stop`` is set): the pass in hand
    finishes, then 0 is returned. A failed pass (source or broker down) is logged and
    retried with exponential back-off; as a connector checkpoints only what the broker
    acknowledged and derives its ids from row identity, the retry publishes nothing
    twice in effect. ``metrics_port`` (0 = off) serves Prometheus /metrics, /livez,
    and /readyz (503 until a pass succeeded and while the last pass failed).
    """
    stop = stop or threading.Event()
    metrics = ConnectorMetrics(connector.name)
    server: MetricsServer | None = None
    if metrics_port:
        server = MetricsServer(metrics)
        bound = server.start(metrics_host, metrics_port)
        log.info("connector_metrics_serving", connector=connector.name, port=bound)
    undo_signals = _install_signals(stop)
    failures = 0
    try:
        log.info("connector_started", connector=connector.name, once=once, interval=interval)
        while True:
            started = time.monotonic()
            ok = _one_pass(connector, publisher, state, metrics)
            if once:
                return 0 if ok else 1
            if ok:
                failures = 0
                wait = max(0.0, interval - (time.monotonic() - started))
            else:
                failures += 1
                wait = min(BACKOFF_MAX_SECONDS, BACKOFF_INITIAL_SECONDS * 2 ** (failures - 1))
                log.info("connector_retrying", connector=connector.name, retry_in=round(wait, 2), failures=failures)
            if stop.wait(wait):
                return 0
    finally:
        undo_signals()
        if server is not None:
            server.stop()
        log.info("connector_stopped", connector=connector.name, passes=metrics.passes_done)
