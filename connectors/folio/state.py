"""Reading a batch's worth of the bridge's state at once.

Mapping a record reads a few keys (``loan/``, ``account/``, ``patron/``); one
``StateStore.get`` per key costs a database round trip each, which was two thirds of
a backfill's time. The keys a batch will read are known from the records
themselves, so they are fetched in a few ``IN`` queries first.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from sqlalchemy import select

from connectors.folio.source import Stream
from connectors.runtime import StateStore
from connectors.state import connector_state

_CHUNK = 500


def state_keys(stream: Stream | None, value: bytes | None) -> list[str]:
    """The keys the mapping of one record reads (best effort: a record it cannot read names none)."""
    try:
        raw = json.loads(value) if value else None
        if not isinstance(raw, dict):
            return []
        if stream is Stream.FINES:
            payload = json.loads(raw.get("eventPayload") or "{}")
            return [f"account/{payload.get('feeFineId')}", f"patron/{payload.get('userId')}"]
        data = raw.get("data") or {}
        keys = []
        for side in ("old", "new"):
            record = data.get(side) or {}
            if stream is Stream.LOANS:
                keys += [f"loan/{record.get('id')}", f"patron/{record.get('userId')}"]
            elif stream is Stream.USERS:
                keys.append(f"patron/{record.get('id')}")
        return keys
    except (ValueError, TypeError, AttributeError):
        return []


def read_many(state: StateStore, keys: Iterable[str]) -> dict[str, Any | None]:
    """The values of ``keys`` (None for those not stored), in one query per few hundred keys.

    Reads the runtime's table directly, as ``StateStore`` has no multi-key read yet.
    """
    wanted = sorted(set(keys))
    found: dict[str, Any | None] = dict.fromkeys(wanted)
    table = connector_state
    with state.engine.connect() as conn:
        for start in range(0, len(wanted), _CHUNK):
            chunk = wanted[start : start + _CHUNK]
            query = select(table.c.key, table.c.value).where(
                table.c.connector == state.connector, table.c.key.in_(chunk)
            )
            for key, value in conn.execute(query):
                found[key] = json.loads(value)
    return found
