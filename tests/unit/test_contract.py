"""The wire contract (SPEC §4): what is accepted, and why the rest is dead-lettered (G7)."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from schemas.export import export_schemas
from schemas.registry import INBOUND_TYPES, OUTBOUND_TYPES, ErrorKind, InvalidEvent, Topic, parse_event

LOAN = {
    "specversion": "1.0", "id": "5f0c7c1e", "source": "urn:library:central", "type": "library.loan.opened",
    "time": "2026-11-20T09:15:00+07:00", "subject": "P-000123", "datacontenttype": "application/json",
    "sequence": "42",
    "data": {"loan_id": "L1", "library_id": "central", "patron_id": "P-000123", "item_id": "B1", "title": "Kalkulus",
             "borrowed_at": "2026-11-20T09:15:00+07:00", "due_at": "2026-12-04T09:15:00+07:00"},
}  # fmt: skip


def _with(**changes) -> bytes:
    event = json.loads(json.dumps(LOAN))
    for path, value in changes.items():
        target, *keys = path.split("__")
        holder = event if not keys else event[target]
        key = keys[-1] if keys else target
        if value is None:
            holder.pop(key, None)
        else:
            holder[key] = value
    return json.dumps(event).encode()


def _kind(value: bytes | None, topic: Topic | None = Topic.CIRCULATION) -> ErrorKind:
    with pytest.raises(InvalidEvent) as caught:
        parse_event(value, topic)
    return caught.value.kind


def test_a_valid_event_parses_and_unknown_attributes_and_fields_are_ignored() -> None:
    event = parse_event(_with(traceparent="00-abc", data__shelf="3B"), Topic.CIRCULATION)
    assert event.key == ("urn:library:central", "5f0c7c1e")
    assert event.data.loan_id == "L1"


@pytest.mark.parametrize(
    ("value", "kind"),
    [
        (b"\xff\xfe not utf-8", ErrorKind.INVALID_JSON),
        (b'{"specversion": "1.0", ', ErrorKind.INVALID_JSON),
        (None, ErrorKind.INVALID_JSON),
        (b"[" * 100_000 + b"]" * 100_000, ErrorKind.INVALID_JSON),
        (b"[1, 2]", ErrorKind.NOT_CLOUDEVENT),
        (_with(id=None), ErrorKind.NOT_CLOUDEVENT),
        (_with(specversion="0.3"), ErrorKind.NOT_CLOUDEVENT),
        (_with(datacontenttype="application/xml"), ErrorKind.NOT_CLOUDEVENT),
        (_with(time="2026-11-20T09:15:00"), ErrorKind.NOT_CLOUDEVENT),
        (_with(type="library.loan.borrowed"), ErrorKind.UNKNOWN_TYPE),
        (_with(data__title=None), ErrorKind.SCHEMA_VIOLATION),
        (_with(data__due_at=1764000000), ErrorKind.SCHEMA_VIOLATION),
        (_with(data__interlibrary="true"), ErrorKind.SCHEMA_VIOLATION),
    ],
)
def test_bad_input_is_refused_with_the_kind_of_error(value: bytes | None, kind: ErrorKind) -> None:
    assert _kind(value) is kind


def test_an_event_on_the_wrong_topic_is_refused() -> None:
    assert _kind(_with(), Topic.APPLICATIONS) is ErrorKind.WRONG_TOPIC


@pytest.mark.parametrize("amount", [15000, "-1", "1e5", "15.000,00", ""])
def test_amounts_must_be_non_negative_decimal_strings(amount: object) -> None:
    fine = {"fine_id": "F1", "library_id": "c", "patron_id": "P", "amount": amount, "currency": "IDR", "reason": "r"}
    assert _kind(_with(type="library.fine.assessed", data=fine)) is ErrorKind.SCHEMA_VIOLATION


@pytest.mark.parametrize("currency", ["idr", "XXY", "RP", "IDRX"])
def test_currencies_must_be_iso_4217_codes(currency: str) -> None:
    fine = {"fine_id": "F1", "library_id": "c", "patron_id": "P", "amount": "1", "currency": currency, "reason": "r"}
    assert _kind(_with(type="library.fine.assessed", data=fine)) is ErrorKind.SCHEMA_VIOLATION


def test_degree_levels_are_the_indonesian_ones() -> None:
    application = {"application_id": "A", "student_id": "S", "full_name": "Sukarno", "faculty": "F", "program": "P",
                   "degree_level": "BSc", "graduation_period": "2026-2"}  # fmt: skip
    raw = _with(type="graduation.application.submitted", data=application)
    assert _kind(raw, Topic.APPLICATIONS) is ErrorKind.SCHEMA_VIOLATION


def test_one_schema_file_per_event_type_and_real_events_validate_against_them(tmp_path: Path) -> None:
    paths = export_schemas(tmp_path)
    assert len(paths) == len(INBOUND_TYPES) + len(OUTBOUND_TYPES) == 18
    schema = json.loads((tmp_path / "library.loan.opened.schema.json").read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.validate(LOAN, schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(json.loads(_with(data__title=None)), schema)
