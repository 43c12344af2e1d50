"""What every background loop of the service shares: settings, the store, the stop signal, back-off."""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass

from sqlalchemy.orm import Session, sessionmaker

from clearance.observability.observer import NullObserver, Observer
from clearance.settings import Settings
from clearance.store.unit_of_work import SqlUnitOfWork


@dataclass(slots=True)
class Backoff:
    """Delays that double from ``initial`` up to ``maximum``, jittered so instances do not stampede."""

    initial: float = 0.5
    maximum: float = 30.0
    attempts: int = 0

    def next_delay(self) -> float:
        """The next delay, in seconds."""
        ceiling = min(self.maximum, self.initial * (2**self.attempts))
        self.attempts += 1
        return random.uniform(ceiling / 2, ceiling)

    def reset(self) -> None:
        """Start again from the initial delay."""
        self.attempts = 0


class Worker:
    """A loop of the service that runs in its own thread until ``stop`` is set."""

    def __init__(
        self,
        settings: Settings,
        session_factory: sessionmaker[Session],
        stop: threading.Event,
        observer: Observer | None = None,
    ) -> None:
        self.settings = settings
        self.session_factory = session_factory
        self.stop = stop
        self.observer: Observer = observer or NullObserver()
        self.backoff = Backoff(settings.retry_initial_seconds, settings.retry_max_seconds)

    def unit_of_work(self) -> SqlUnitOfWork:
        """A new transaction on the store."""
        return SqlUnitOfWork(self.session_factory)

    def run(self) -> None:
        """Work until stopped."""
        raise NotImplementedError
