"""Building the contract's CloudEvents (SPEC §4) from what the bridge read, and the state it keeps.

The bridge's state (in the runtime's StateStore) is JSON under three kinds of key:

- ``loan/<loan id>``: a loan the bridge knows as open (user, item, dates, renewals, lost);
- ``account/<fee/fine account id>``: an account's owner, last balance and which of our
  fine ids currently stands for it (see :mod:`connectors.folio.fines`);
- ``patron/<user id>``: the student id last linked and the time of the latest fact known.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Literal

from connectors.folio.records import UnmappableRecord, folio_time
from connectors.runtime import Outgoing, event_id

StudentIdField = Literal["externalSystemId", "barcode", "username"]

StateLookup = Callable[[str], Any | None]
"""Reads one key of the bridge's state (what the batch changed so far, else the store)."""


@dataclass(frozen=True, slots=True)
class BridgeConfig:
    """What the mapping needs to know about the deployment."""

    library_id: str
    tenant: str
    currency: str = "IDR"
    student_id_field: StudentIdField = "externalSystemId"

    @property
    def source(self) -> str:
        """The CloudEvent ``source`` of everything the bridge publishes (SPEC §8)."""
        return f"urn:library:{self.library_id}"


@dataclass(slots=True)
class Mapped:
    """What one FOLIO record turns into: events to publish and state to write after their ack."""

    events: list[Outgoing] = field(default_factory=list)
    changes: dict[str, Any | None] = field(default_factory=dict)


class Draft:
    """State as one record's mapping sees it: its own changes over ``lookup``."""

    def __init__(self, lookup: StateLookup) -> None:
        self._lookup = lookup
        self.mapped = Mapped()

    def get(self, key: str) -> Any | None:
        if key in self.mapped.changes:
            return self.mapped.changes[key]
        return self._lookup(key)

    def put(self, key: str, value: Any | None) -> None:
        self.mapped.changes[key] = value

    def emit(self, event: Outgoing) -> None:
        self.mapped.events.append(event)

    def touch_patron(self, user_id: str, time: datetime, student_id: str | None = None) -> None:
        """Remember that a fact about ``user_id`` is known as of ``time`` (and its student id)."""
        key = f"patron/{user_id}"
        patron = dict(self.get(key) or {"student_id": None, "last": None})
        if student_id is not None:
            patron["student_id"] = student_id
        if patron["last"] is None or time > folio_time(patron["last"]):
            patron["last"] = iso(time)
        self.put(key, patron)


def iso(value: datetime) -> str:
    """RFC 3339 with the offset, as the contract wants it."""
    return value.isoformat()


def not_after(value: datetime, now: datetime) -> datetime:
    """``value``, but never later than ``now``: the service refuses events from the future (G12)."""
    return min(value, now)


def first_time(now: datetime, *candidates: str | datetime | None) -> datetime:
    """The first date that is given, capped at ``now``; ``now`` when none is."""
    for candidate in candidates:
        if candidate is None:
            continue
        value = candidate if isinstance(candidate, datetime) else folio_time(candidate)
        return not_after(value, now)
    return now


def normal_date(value: str | None, what: str, identity: str) -> str:
    """A FOLIO date-time in the contract's form; unmappable if absent."""
    if value is None:
        raise UnmappableRecord(f"{what} is missing", identity)
    return iso(folio_time(value))


def amount(value: Decimal, identity: str) -> str:
    """A decimal string in the contract's form (``"15000"``, ``"15000.5"``, at most 4 decimals)."""
    if value == value.to_integral_value():
        return str(int(value))
    text = format(value.normalize(), "f")
    if len(text.split(".", 1)[1]) > 4:
        raise UnmappableRecord(f"amount {value} has more than 4 decimals", identity)
    return text


def later(value: datetime, by: timedelta = timedelta(milliseconds=1)) -> datetime:
    return value + by


def cloud_event(
    config: BridgeConfig,
    event_type: str,
    subject: str,
    data: dict[str, Any],
    time: datetime,
    identity: tuple[object, ...],
    sequence: int | None = None,
) -> Outgoing:
    """A CloudEvent of the contract, keyed by ``subject`` (the FOLIO user id), its id from ``identity``."""
    event: dict[str, Any] = {
        "specversion": "1.0",
        "id": event_id("folio", config.tenant, *identity),
        "source": config.source,
        "type": event_type,
        "time": iso(time),
        "subject": subject,
        "datacontenttype": "application/json",
        "data": {k: v for k, v in data.items() if v is not None},
    }
    if sequence is not None:
        event["sequence"] = str(sequence)
    return Outgoing(key=subject, event=event)
