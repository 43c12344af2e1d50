"""Whether an event may be applied at all, whatever it says: time bounds (G12).

A stamp later than now plus a small clock skew would win every comparison of
:mod:`clearance.domain.ordering` for good and freeze the entity it touches, so
such an event changes nothing and is dead-lettered as ``time-in-future``.
Fields that name the future by nature (a loan's ``due_at``, a ceremony date)
are not stamps and are not bounded.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from schemas.registry import InboundEvent

FUTURE_BY_NATURE = frozenset({"due_at", "ceremony_date"})


# What may hold a timestamp; text, numbers and the like are passed over without building their path.
_WALKED = (datetime, Mapping, list, tuple)


def future_stamps(event: InboundEvent, now: datetime, skew: timedelta) -> list[str]:
    """The fields of ``event`` (``time`` and every timestamp in ``data``) later than ``now + skew``, in order."""
    bound = now + skew
    late = [f"time={event.envelope.time.isoformat()}"] if event.envelope.time > bound else []
    # Depth first, in field order; a field's path is written only where it may hold a timestamp.
    stack: list[tuple[str, Any]] = [("data", event.data.model_dump())]
    while stack:
        path, value = stack.pop()
        if isinstance(value, datetime):
            if value > bound:
                late.append(f"{path}={value.isoformat()}")
        elif isinstance(value, Mapping):
            children = [(f"{path}.{key}", item) for key, item in value.items()
                        if key not in FUTURE_BY_NATURE and isinstance(item, _WALKED)]  # fmt: skip
            stack.extend(reversed(children))
        else:  # a list or a tuple
            items = [(f"{path}[{i}]", item) for i, item in enumerate(value) if isinstance(item, _WALKED)]
            stack.extend(reversed(items))
    return late
