"""G7 at the parser: whatever bytes arrive, the answer is a valid event or a reasoned refusal, never a crash."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schemas.registry import INBOUND_TYPES, InvalidEvent, parse_event

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=20,
)


def _outcome(value: bytes) -> str:
    try:
        parse_event(value)
    except InvalidEvent as refused:
        assert refused.kind.value and refused.message
        return refused.kind.value
    return "valid"


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=2000))
def test_random_bytes_are_refused_with_a_reason(value: bytes) -> None:
    assert _outcome(value) in {"invalid-json", "invalid-cloudevent"}


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(json_values)
def test_any_json_that_is_not_a_cloudevent_is_refused_with_a_reason(value: object) -> None:
    assert _outcome(json.dumps(value).encode()) != "valid"


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    event_type=st.sampled_from(sorted(INBOUND_TYPES)),
    data=st.dictionaries(
        st.sampled_from(["loan_id", "library_id", "patron_id", "student_id", "amount", "currency", "due_at",
                         "application_id", "full_name", "deposit_id", "open_loans", "interlibrary", "title"]),
        json_values, max_size=8,
    ),
    time=st.text(max_size=40) | st.sampled_from(["2026-11-20T09:15:00+07:00", "2026-11-20T09:15:00Z"]),
)  # fmt: skip
def test_every_type_with_arbitrary_data_is_valid_or_refused(event_type: str, data: dict, time: str) -> None:
    envelope = {"specversion": "1.0", "id": "x", "source": "urn:s", "type": event_type, "time": time, "data": data}
    assert _outcome(json.dumps(envelope).encode()) in {"valid", "schema", "invalid-cloudevent"}


@settings(max_examples=300, deadline=None)
@given(st.text(min_size=1, max_size=300))
def test_any_unicode_name_survives_validation_unchanged(name: str) -> None:
    data = {"application_id": "A", "student_id": "S", "full_name": name, "faculty": "F", "program": "P",
            "degree_level": "S1", "graduation_period": "2026-2"}  # fmt: skip
    envelope = {"specversion": "1.0", "id": "x", "source": "urn:s", "type": "graduation.application.submitted",
                "time": "2026-11-20T09:15:00+07:00", "data": data}  # fmt: skip
    try:
        event = parse_event(json.dumps(envelope).encode())
    except InvalidEvent:
        return
    assert event.data.full_name == name


def test_deep_nesting_is_refused_not_a_stack_overflow() -> None:
    assert _outcome(b'{"data":' * 200_000 + b"1" + b"}" * 200_000) == "invalid-json"


def test_lone_surrogates_and_nul_characters_are_refused_before_they_reach_the_database() -> None:
    for text in ('"\\ud800"', '"a\\u0000b"'):
        raw = '{"specversion":"1.0","id":' + text + ',"source":"urn:s","type":"library.patron.linked",'
        raw += '"time":"2026-11-20T09:15:00+07:00","data":{"patron_id":"P","library_id":"c","student_id":"S"}}'
        assert _outcome(raw.encode()) == "schema"


def test_right_to_left_marks_and_javanese_script_are_plain_text() -> None:
    for name in ("\u202eRTL", "ꦱꦶꦠꦶ Rahmawati", "Siti 🎓", "O'Brien", "Sukarno"):
        data = {"patron_id": "P", "library_id": "c", "student_id": name}
        envelope = {"specversion": "1.0", "id": "x", "source": "urn:s", "type": "library.patron.linked",
                    "time": "2026-11-20T09:15:00+07:00", "data": data}  # fmt: skip
        assert _outcome(json.dumps(envelope).encode()) == "valid"
