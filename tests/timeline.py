"""Shared constants and helpers for building test events."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Any

from schemas.registry import InboundEvent, parse_event

WIB = timezone(timedelta(hours=7))
T0 = datetime(2026, 11, 20, 9, 0, tzinfo=WIB)


def as_event(envelope: dict[str, Any]) -> InboundEvent:
    """Validate an envelope the way the consumer does."""
    return parse_event(json.dumps(envelope).encode())
