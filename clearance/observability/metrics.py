"""Prometheus metrics and the liveness and readiness checks, served on ``CLEARANCE_METRICS_PORT``.

Three parts:

- :class:`~clearance.observability.prometheus.PrometheusObserver` counts what the consumers and the relay report
  through the :class:`~clearance.observability.observer.Observer` protocol: events consumed
  by topic and type, dead letters by kind, decisions by outcome, certificates
  issued and revoked, and the decision latency (the source time of the fact
  behind a message to the broker's acknowledgement of that message).
- :class:`~clearance.observability.monitor.Monitor` reads, every few seconds on its own thread, what only the
  store and the broker know: the outbox backlog and the age of its oldest
  row, applications by status, and consumer lag per partition (the broker's
  next offset minus the position stored with the data). Whether those reads
  succeed is the database's and the broker's reachability.
- :class:`MetricsServer` serves ``/metrics``, ``/livez`` and ``/readyz``.

``/livez`` fails only when a worker thread died: an unreachable database or
broker is an outage the service waits out (G10), and restarting it would not
help. ``/readyz`` fails while the database or the broker has not answered
recently, or while the service shuts down.

"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Mapping
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import structlog
from prometheus_client import CollectorRegistry, make_wsgi_app
from sqlalchemy.orm import Session, sessionmaker

from clearance.observability.monitor import BrokerProbe, Monitor
from clearance.observability.prometheus import PrometheusObserver
from clearance.settings import Settings
from schemas.registry import Topic

log = structlog.get_logger("clearance.metrics")


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
        faults = dict(self.observer.active_faults)
        checks["service_faults"] = faults
        return ok and not stopping and not faults, checks

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
