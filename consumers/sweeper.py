"""Re-evaluates applications that the freshness gate holds, once their sources catch up or the bound runs out."""

from __future__ import annotations

import threading

import structlog
from sqlalchemy.orm import Session, sessionmaker

from clearance.doorbell import Doorbell
from clearance.observability.observer import Observer
from clearance.services.decide import decide_pending
from clearance.services.results import Context
from clearance.settings import Settings
from clearance.worker import Worker
from consumers.offsets import SourceOffsetReader
from consumers.streams import Streams

log = structlog.get_logger("clearance.sweeper")


class PendingSweeper(Worker):
    """Looks for held applications every ``freshness_sweep_seconds`` until ``stop`` is set."""

    def __init__(
        self,
        settings: Settings,
        session_factory: sessionmaker[Session],
        context: Context,
        stop: threading.Event,
        observer: Observer | None = None,
        streams: Streams | None = None,
        doorbell: Doorbell | None = None,
    ) -> None:
        super().__init__(settings, session_factory, stop, observer)
        self.context = context
        self.streams = streams
        self.doorbell = doorbell or Doorbell()

    def run(self) -> None:
        """Sweep until stopped."""
        reader = SourceOffsetReader(self.settings, streams=self.streams)
        try:
            while not self.stop.is_set():
                try:
                    self.sweep(reader)
                    self.backoff.reset()
                    self.stop.wait(self.settings.freshness_sweep_seconds)
                except Exception as exc:  # an outage of either the broker or the database: wait it out
                    delay = self.backoff.next_delay()
                    log.warning("sweep_failed", error=repr(exc)[:200], retry_in=round(delay, 2))
                    self.stop.wait(delay)
        finally:
            reader.close()

    def sweep(self, reader: SourceOffsetReader) -> int:
        """Re-evaluate held applications once; return how many decisions were made."""
        with self.unit_of_work() as uow:
            if not uow.decisions.pending_students(1):
                return 0
        sources = reader.snapshot()
        with self.unit_of_work() as uow:
            # The ends read again for the decisions: an application held since `sources` were read is not in them.
            result = decide_pending(uow, self.context, sources, fresh=reader.snapshot)
            uow.commit()
        if result.messages:
            self.doorbell.ring()
        if result.decisions:
            self.observer.swept(result)
            log.info(
                "pending_swept", decisions=result.decisions, issued=len(result.issued), outcomes=dict(result.outcomes)
            )
        return result.decisions
