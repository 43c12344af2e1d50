"""The running service: one consumer loop per inbound topic, the freshness sweeper and the outbox relay."""

from __future__ import annotations

import threading
from collections.abc import Callable

import structlog

from clearance.doorbell import Doorbell
from clearance.observability.metrics import ServiceMetrics
from clearance.observability.observer import NullObserver, Observer
from clearance.services.results import Context
from clearance.settings import Settings
from clearance.store.engine import Database
from clearance.store.migrate import upgrade
from clearance.verification.publisher import StatusListPublisher
from consumers.loop import ConsumerLoop
from consumers.streams import Streams
from consumers.sweeper import PendingSweeper
from consumers.watermarks import TopicWatermarks
from producers.relay import OutboxRelay
from producers.topics import ensure_topics
from schemas.registry import INBOUND_TOPICS

log = structlog.get_logger("clearance.service")


class Service:
    """Runs the consumer loops, the freshness sweeper and the relay in threads, and stops them together."""

    def __init__(self, settings: Settings, database: Database, context: Context, streams: Streams) -> None:
        self.settings = settings
        self.database = database
        self.streams = streams
        self.engine = database.engine
        self.session_factory = database.sessions
        self.context = context
        self.stop_event = threading.Event()
        self.threads: list[threading.Thread] = []
        self.observer: Observer = NullObserver()
        self.metrics: ServiceMetrics | None = None
        # Whether a worker thread died: the process then exits non-zero so a supervisor restarts it.
        self.crashed = False
        if settings.metrics_port:
            self.metrics = ServiceMetrics(settings, self.session_factory, TopicWatermarks(settings))
            self.metrics.observer.trust_open.set(1 if streams.trust is None else 0)
            self.observer = self.metrics.observer

    def prepare(self, migrate: bool = True) -> None:
        """Migrate the database and create missing topics."""
        if migrate:
            upgrade(self.settings.database_url)
        if self.settings.create_topics:
            ensure_topics(self.settings, self.streams.named(*INBOUND_TOPICS))

    def start(self) -> None:
        """Start the consumer loops and the relay in background threads.

        Raises :class:`~clearance.store.engine.StoreInUse` when another service holds the SQLite file.
        """
        self.database.claim()
        self.stop_event.clear()
        self.crashed = False
        # The writers of the outbox wake the relay when they commit, instead of it finding the rows at its next poll.
        doorbell = Doorbell()
        for topic in INBOUND_TOPICS:
            loop = ConsumerLoop(self.settings, topic, self.session_factory, self.context, self.stop_event,
                                observer=self.observer, streams=self.streams, doorbell=doorbell)  # fmt: skip
            self._spawn(f"consume-{topic.value}", loop.run)
        sweeper = PendingSweeper(self.settings, self.session_factory, self.context, self.stop_event,
                                 observer=self.observer, streams=self.streams, doorbell=doorbell)  # fmt: skip
        self._spawn("freshness-sweeper", sweeper.run)
        relay = OutboxRelay(self.settings, self.session_factory, self.stop_event, observer=self.observer,
                            doorbell=doorbell)  # fmt: skip
        self._spawn("relay", relay.run)
        lists = StatusListPublisher(self.settings, self.session_factory, self.stop_event, self.context.signing_key)
        self._spawn("status-lists", lists.run)
        if self.metrics is not None:
            self.metrics.start(self.stop_event, lambda: {t.name: t.is_alive() for t in self.threads})
        log.info(
            "service_started",
            bootstrap=self.settings.kafka_bootstrap_servers,
            database=self.engine.url.render_as_string(hide_password=True),
            topic_prefix=self.settings.topic_prefix,
            policy=self.context.policy().digest,
            key_id=self.context.signing_key().key_id,
            trust_rules=len(self.streams.trust.rules) if self.streams.trust is not None else None,
        )
        if self.streams.trust is None:
            log.warning("running_open", why="no CLEARANCE_TRUST_FILE: every inbound topic's writer is believed (G11)")

    def _spawn(self, name: str, target: Callable[[], None]) -> None:
        def guarded() -> None:
            try:
                target()
            except BaseException:
                log.exception("worker_crashed", worker=name)
                self.crashed = True
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
        """Release the database's connections."""
        self.database.close()

    def wait(self) -> None:
        """Block until stopped (by a signal or a crashed worker)."""
        while not self.stop_event.wait(0.5):
            pass
