"""Hooks through which the running service reports what it does (metrics, tests).

The consumers and the relay call an :class:`Observer`; the default does
nothing. Keeping this a protocol lets the domain stay free of any metrics
library.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from clearance.services.results import BatchResult


@dataclass(frozen=True, slots=True)
class Published:
    """One message the relay published and the broker acknowledged."""

    type: str
    topic: str
    created_at: datetime
    trigger_time: datetime | None
    published_at: datetime


class Observer(Protocol):
    """What the service tells its observers."""

    def batch_applied(self, topic: str, result: BatchResult, seconds: float) -> None: ...

    def batch_failed(self, topic: str, error: BaseException, transient: bool) -> None: ...

    def published(self, messages: Sequence[Published]) -> None: ...

    def swept(self, result: BatchResult) -> None:
        """The freshness sweeper decided about applications the gate held."""
        ...

    def set_aside(self, rows: Sequence[tuple[str, str]]) -> None:
        """The relay set aside (type, topic) rows the broker refuses for good."""
        ...

    def service_fault(self, worker: str, error: BaseException | None) -> None:
        """A fault of the service itself (not of a message) began (``error``) or ended (None) in ``worker``."""
        ...

    def positions_not_saved(self, topic: str, error: BaseException) -> None:
        """Idle positions the freshness gate needs could not be stored."""
        ...


class NullObserver:
    """Observes nothing."""

    def batch_applied(self, topic: str, result: BatchResult, seconds: float) -> None:
        return None

    def batch_failed(self, topic: str, error: BaseException, transient: bool) -> None:
        return None

    def published(self, messages: Sequence[Published]) -> None:
        return None

    def swept(self, result: BatchResult) -> None:
        return None

    def set_aside(self, rows: Sequence[tuple[str, str]]) -> None:
        return None

    def service_fault(self, worker: str, error: BaseException | None) -> None:
        return None

    def positions_not_saved(self, topic: str, error: BaseException) -> None:
        return None
