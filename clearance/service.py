"""The running service: one consumer loop per inbound topic and the outbox relay, in one process."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import structlog
from sqlalchemy import Engine

from clearance.handlers import Context
from clearance.metrics import ServiceMetrics
from clearance.observe import NullObserver, Observer
from clearance.policy import Policy, PolicyError, load_policy
from clearance.settings import Settings
from clearance.signing import KeyRing, SigningKey
from clearance.store.database import make_engine, make_session_factory
from clearance.store.migrate import upgrade
from consumers.loop import ConsumerLoop
from consumers.sweeper import PendingSweeper
from consumers.watermarks import TopicWatermarks
from producers.relay import OutboxRelay
from producers.topics import ensure_topics
from schemas.registry import INBOUND_TOPICS

log = structlog.get_logger("clearance.service")


class PolicySource:
    """The current policy; re-read when its file changes, so a change applies to later evaluations."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._mtime = self._stat()
        self._policy = load_policy(path)
        self._lock = threading.Lock()

    def _stat(self) -> float | None:
        return os.stat(self.path).st_mtime if self.path is not None else None

    def __call__(self) -> Policy:
        if self.path is None:
            return self._policy
        with self._lock:
            try:
                mtime = self._stat()
                if mtime != self._mtime:
                    self._policy = load_policy(self.path)
                    self._mtime = mtime
                    log.info("policy_reloaded", path=str(self.path), policy=self._policy.digest)
            except (OSError, PolicyError) as exc:
                # Keep deciding with the last good policy rather than stopping the stream.
                log.error("policy_reload_failed", path=str(self.path), error=str(exc))
            return self._policy


class KeySource:
    """The current signing key, loaded once and reloaded when the key directory's marker changes."""

    def __init__(self, ring: KeyRing) -> None:
        self.ring = ring
        ring.check_permissions()
        self._key = ring.signing_key(create=True)
        self._lock = threading.Lock()

    def __call__(self) -> SigningKey:
        with self._lock:
            current = self.ring.current_id()
            if current is not None and current != self._key.key_id:
                self._key = self.ring.load(current)
                log.info("signing_key_changed", key_id=current)
            return self._key


class Service:
    """Wires settings, store, policy, keys, consumers and relay together."""

    def __init__(self, settings: Settings, engine: Engine | None = None) -> None:
        self.settings = settings
        self.engine = engine or make_engine(settings.database_url)
        self.session_factory = make_session_factory(self.engine)
        self.policy = PolicySource(settings.policy_file)
        self.keys = KeySource(KeyRing(settings.key_dir))
        self.context = Context(
            policy=self.policy,
            signing_key=self.keys,
            clock=settings.now,
            issuer=settings.issuer,
            freshness_max_wait=timedelta(seconds=settings.freshness_max_wait_seconds),
        )
        self.stop_event = threading.Event()
        self.threads: list[threading.Thread] = []
        self.observer: Observer = NullObserver()
        self.metrics: ServiceMetrics | None = None
        if settings.metrics_port:
            self.metrics = ServiceMetrics(settings, self.session_factory, TopicWatermarks(settings))
            self.observer = self.metrics.observer

    def prepare(self, migrate: bool = True) -> None:
        """Migrate the database and create missing topics."""
        if migrate:
            upgrade(self.settings.database_url)
        if self.settings.create_topics:
            ensure_topics(self.settings)

    def start(self) -> None:
        """Start the consumer loops and the relay in background threads."""
        self.stop_event.clear()
        for topic in INBOUND_TOPICS:
            loop = ConsumerLoop(
                self.settings, topic, self.session_factory, self.context, self.stop_event, observer=self.observer
            )
            self._spawn(f"consume-{topic.value}", loop.run)
        sweeper = PendingSweeper(
            self.settings, self.session_factory, self.context, self.stop_event, observer=self.observer
        )
        self._spawn("freshness-sweeper", sweeper.run)
        relay = OutboxRelay(self.settings, self.session_factory, self.stop_event, observer=self.observer)
        self._spawn("relay", relay.run)
        if self.metrics is not None:
            self.metrics.start(self.stop_event, lambda: {t.name: t.is_alive() for t in self.threads})
        log.info(
            "service_started",
            bootstrap=self.settings.kafka_bootstrap_servers,
            database=self.engine.url.render_as_string(hide_password=True),
            topic_prefix=self.settings.topic_prefix,
            policy=self.policy().digest,
            key_id=self.keys().key_id,
        )

    def _spawn(self, name: str, target: Callable[[], None]) -> None:
        def guarded() -> None:
            try:
                target()
            except BaseException:
                log.exception("worker_crashed", worker=name)
                # A dead worker would silently stop a topic; stop the whole
                # process so the supervisor restarts it (offsets are safe).
                self.stop_event.set()
                raise

        thread = threading.Thread(target=guarded, name=name, daemon=True)
        thread.start()
        self.threads.append(thread)

    def stop(self, timeout: float = 30.0) -> None:
        """Finish the current batches, commit, publish what is pending, and stop."""
        self.stop_event.set()
        for thread in self.threads:
            thread.join(timeout)
        self.threads.clear()
        if self.metrics is not None:
            self.metrics.close()
        log.info("service_stopped")

    def close(self) -> None:
        self.engine.dispose()

    def wait(self) -> None:
        """Block until stopped (by a signal or a crashed worker)."""
        while not self.stop_event.wait(0.5):
            pass
