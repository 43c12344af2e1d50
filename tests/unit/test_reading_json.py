"""A record's value is read to the same JSON value, or refused for the same reason, whichever parser reads it."""

from __future__ import annotations

import json
import math

from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.registry import _loads, _storable

_TEXT = st.text(st.characters(codec=None, exclude_categories=()), max_size=10)
_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | _TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_TEXT, inner, max_size=4),
    max_leaves=16,
)


def _same(a: object, b: object) -> bool:
    # NaN is not equal to itself; compare what the two values would be written as.
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True) or (
        isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b)
    )


@settings(max_examples=800, deadline=None)
@given(_VALUES, st.booleans())
def test_a_value_reads_as_the_standard_library_reads_it(value: object, ascii_only: bool) -> None:
    raw = json.dumps(value, ensure_ascii=ascii_only).encode("utf-8", "surrogatepass")
    try:
        expected = json.loads(raw)
    except ValueError:
        return  # refused either way: the consumer dead-letters it as invalid JSON
    read, checked = _loads(raw)
    assert _same(read, expected)
    if checked:
        assert _storable(read)


def test_a_nul_escape_sends_the_value_to_the_full_check() -> None:
    read, checked = _loads(b'{"a": "x\\u0000y"}')
    assert read == {"a": "x\x00y"} and not checked and not _storable(read)


def test_an_integer_beyond_64_bits_stays_an_exact_integer() -> None:
    assert _loads(b'{"n": 123456789012345678901234567890}')[0] == {"n": 123456789012345678901234567890}
