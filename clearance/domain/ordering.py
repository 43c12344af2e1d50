"""The order of facts about one entity, as their events imply it (G5).

An event's *stamp* is a string whose lexicographic order is the order the
contract defines: the event's ``time`` (in UTC), then its ``sequence``, then
a per-type rank for events that share both (a ``returned`` at the same
instant as its ``opened`` is later), then ``source`` and ``id`` so that the
order is total and every replica agrees on it.
"""

from __future__ import annotations

from datetime import UTC, datetime

_NO_SEQUENCE = "0" + "0" * 30


def stamp(time: datetime, sequence: str | None, rank: int, source: str, event_id: str) -> str:
    """The sortable stamp of an event. Later facts have greater stamps."""
    utc = time.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    seq = _NO_SEQUENCE if sequence is None else "1" + sequence.zfill(30)
    return f"{utc}|{seq}|{rank}|{source}|{event_id}"


def is_later(candidate: str, current: str | None) -> bool:
    """Whether a fact stamped ``candidate`` supersedes one stamped ``current``."""
    return current is None or candidate > current
