"""Whether an event may be applied at all, whatever it says: time bounds (G12).

A stamp later than now plus a small clock skew would win every comparison of
:mod:`clearance.domain.ordering` for good and freeze the entity it touches, so
such an event changes nothing and is dead-lettered as ``time-in-future``.
Fields that name the future by nature (a loan's ``due_at``, a ceremony date)
are not stamps and are not bounded.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import datetime, timedelta
from typing import Any

from schemas.registry import InboundEvent

FUTURE_BY_NATURE = frozenset({"due_at", "ceremony_date"})


def _stamps(value: Any, path: str) -> Iterator[tuple[str, datetime]]:
    if isinstance(value, datetime):
        yield path, value
    elif isinstance(value, Mapping):
        for key, item in value.items():
            if key not in FUTURE_BY_NATURE:
                yield from _stamps(item, f"{path}.{key}")
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            yield from _stamps(item, f"{path}[{index}]")


def future_stamps(event: InboundEvent, now: datetime, skew: timedelta) -> list[str]:
    """The fields of ``event`` (``time`` and every timestamp in ``data``) later than ``now + skew``."""
    bound = now + skew
    stamps = [("time", event.envelope.time), *_stamps(event.data.model_dump(), "data")]
    return [f"{path}={moment.isoformat()}" for path, moment in stamps if moment > bound]
