"""A dead letter as published: whole when it fits, cut with digests and its stored id when it does not (G12)."""

from __future__ import annotations

import hashlib

from clearance.services.dead_letters import HEADROOM, publishable
from clearance.services.results import DeadLetter

LIMIT = 1_048_576


def _letter(key: bytes, value: bytes) -> DeadLetter:
    return DeadLetter("library.circulation", 0, 9, key, value, "invalid-json", "not JSON")


def test_a_dead_letter_that_fits_travels_as_it_came_with_its_stored_id() -> None:
    record = publishable(_letter(b"P1", b"{"), 42, LIMIT)
    assert (record.key, record.value) == (b"P1", b"{")
    assert dict(record.headers)["dead-letter-id"] == "42"


def test_an_oversized_value_is_cut_to_fit_and_carries_the_digest_of_the_whole() -> None:
    value = b"v" * 2_000_000
    record = publishable(_letter(b"P1", value), 7, LIMIT)
    headers = dict(record.headers)
    assert len(record.key or b"") + len(record.value or b"") <= LIMIT - HEADROOM
    assert headers["value-sha256"] == hashlib.sha256(value).hexdigest() and headers["value-length"] == "2000000"


def test_an_oversized_key_is_cut_first() -> None:
    key = b"k" * 148_400
    record = publishable(_letter(key, b"x" * 900_000), 7, LIMIT)
    assert record.key == key[:1024] and record.value == b"x" * 900_000
    assert dict(record.headers)["key-sha256"] == hashlib.sha256(key).hexdigest()
