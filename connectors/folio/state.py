"""Reading a batch's worth of the bridge's state at once.

Mapping a record reads a few keys (``loan/``, ``account/``, ``patron/``); one
``StateStore.get`` per key costs a database round trip each, which was two thirds of
a backfill's time. The keys a batch will read are known from the records
themselves (:func:`state_keys`), so they are fetched with one ``StateStore.get_many``.
"""

from __future__ import annotations

import json

from connectors.folio.source import Stream

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
