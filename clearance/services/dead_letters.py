"""Dead letters as published: the original key and bytes, cut to what the broker accepts (G7, G12)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from clearance.services.results import DeadLetter

# Room left in a request for the record's headers and Kafka's own framing.
HEADROOM = 16 * 1024
# A key longer than this is cut when the record does not fit: keys are ids, not payloads.
MAX_KEPT_KEY = 1024


@dataclass(frozen=True, slots=True)
class Published:
    """What goes to the dead-letter topic for one dead letter."""

    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, str], ...]


def publishable(letter: DeadLetter, row_id: int, max_message_bytes: int) -> Published:
    """The record to publish for ``letter`` (stored whole as dead letter ``row_id``), within ``max_message_bytes``.

    A record that fits goes as it came. One that does not carries a cut key and
    value, the SHA-256 and length of each original, and the id of the stored
    dead letter, from which an operator reads the whole.
    """
    headers = [
        ("error-kind", letter.kind),
        ("error-message", letter.message[:1000]),
        ("origin-topic", letter.origin_topic),
        ("origin-partition", str(letter.origin_partition)),
        ("origin-offset", str(letter.origin_offset)),
        ("dead-letter-id", str(row_id)),
    ]
    key, value = letter.key, letter.value
    budget = max_message_bytes - HEADROOM
    if len(key or b"") + len(value or b"") <= budget:
        return Published(key, value, tuple(headers))
    if key is not None and len(key) > MAX_KEPT_KEY:
        headers += [("key-sha256", hashlib.sha256(key).hexdigest()), ("key-length", str(len(key)))]
        key = key[:MAX_KEPT_KEY]
    if value is not None and len(key or b"") + len(value) > budget:
        headers += [("value-sha256", hashlib.sha256(value).hexdigest()), ("value-length", str(len(value)))]
        value = value[: max(0, budget - len(key or b""))]
    return Published(key, value, tuple(headers))
