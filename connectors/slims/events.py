"""CloudEvents of SPEC §4 from SLiMS values: ids, times and envelopes (pure)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from connectors.runtime import Outgoing, event_id

TICK = timedelta(milliseconds=1)


@dataclass(frozen=True, slots=True)
class Context:
    """What every event of one pass shares.

    ``now`` is the pass time (aware, whole milliseconds): no event is stamped later.
    ``generation`` names the connector's state: a new state (lost, or a new
    deployment) gives its snapshots new ids, so that they are not taken for repeats.
    """

    library_id: str
    currency: str
    zone: ZoneInfo
    now: datetime
    generation: str

    @property
    def source(self) -> str:
        return f"urn:library:{self.library_id}"

    def ids(self, *identity: object) -> str:
        """The event id of a SLiMS row's identity and version in this library."""
        return event_id("slims", self.library_id, *identity)

    def local(self, value: datetime | date) -> datetime:
        """A SLiMS DATETIME (naive, in the library's zone) or DATE (its midnight) as an aware time."""
        if isinstance(value, datetime):
            return value.replace(tzinfo=self.zone) if value.tzinfo is None else value.astimezone(self.zone)
        return datetime.combine(value, time(0), tzinfo=self.zone)


def rfc3339(value: datetime) -> str:
    """RFC 3339 with the offset and at most millisecond precision."""
    return value.isoformat(timespec="milliseconds") if value.microsecond else value.isoformat(timespec="seconds")


@dataclass(frozen=True, slots=True)
class Window:
    """The times one member's events of one pass may carry.

    ``floor``: just after the last snapshot of the member (a later fact must
    not sort before it); ``ceiling``: the pass time, or just before it when the
    pass publishes a snapshot of the member, which then sorts after them all.
    """

    floor: datetime | None
    ceiling: datetime

    def fit(self, value: datetime) -> datetime:
        if self.floor is not None and value < self.floor:
            value = self.floor
        return min(value, self.ceiling)


def envelope(
    ctx: Context,
    event_type: str,
    subject: str,
    data: dict[str, Any],
    *,
    at: datetime,
    identity: tuple[object, ...],
    sequence: int | None = None,
) -> Outgoing:
    """One CloudEvent about patron ``subject`` (its Kafka key)."""
    event: dict[str, Any] = {
        "specversion": "1.0",
        "id": ctx.ids(*identity),
        "source": ctx.source,
        "type": event_type,
        "time": rfc3339(at),
        "subject": subject,
        "datacontenttype": "application/json",
        "data": data,
    }
    if sequence is not None:
        event["sequence"] = str(sequence)
    return Outgoing(key=subject, event=event)
