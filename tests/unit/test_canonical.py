"""The canonical JSON every signature covers is RFC 8785's, whichever writer produced it."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from clearance.domain.certificate import certificate_document
from clearance.domain.decision import Basis
from clearance.signing.canonical import _plain, canonical

# Any text, control characters, lone surrogates and characters beyond the BMP included.
_TEXT = st.text(st.characters(codec=None, exclude_categories=()), max_size=12)
_SCALARS = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | _TEXT
_JSON = st.recursive(
    _SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_TEXT, inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=600, deadline=None)
@given(st.dictionaries(_TEXT, _JSON, max_size=6))
def test_canonical_bytes_are_those_of_the_reference_implementation(document: dict) -> None:
    try:
        expected = rfc8785.dumps(document)
    except (rfc8785.CanonicalizationError, UnicodeEncodeError) as exc:
        with pytest.raises(type(exc)):
            canonical(document)
        return
    assert canonical(document) == expected


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E)),
                       st.recursive(st.none() | st.booleans() | st.integers(-(2**53) + 1, 2**53 - 1) | _TEXT,
                                    lambda inner: st.lists(inner, max_size=4), max_leaves=12), max_size=6))  # fmt: skip
def test_plain_json_takes_the_fast_writer_and_gives_the_same_bytes(document: dict) -> None:
    if _plain(document):
        assert canonical(document) == rfc8785.dumps(document)


def test_a_certificate_is_plain_json_for_the_fast_writer() -> None:
    document = certificate_document(
        number="BP/2026-2/0000001", application_id="APP-1", student_id="S1", full_name="Siti Nurhaliza Ñoño",
        faculty="Teknik", program="Teknik Sipil", degree_level="S1", graduation_period="2026-2",
        issued_at=datetime(2026, 12, 7, tzinfo=UTC), issuer="urn:library:central", basis=Basis(0, Decimal(0), "DEP-1"),
    )  # fmt: skip
    assert _plain(document)
    assert canonical(document) == rfc8785.dumps(document)


def test_a_float_goes_to_the_reference_writer() -> None:
    assert not _plain({"amount": 1.5})
    assert canonical({"amount": 1.5, "b": "\u2028\x1f"}) == rfc8785.dumps({"amount": 1.5, "b": "\u2028\x1f"})

