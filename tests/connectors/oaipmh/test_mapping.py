"""The mapping from harvested OAI-PMH records to deposit events, without services."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

import pytest

from connectors.oaipmh.degrees import degree_level, level_from_type, level_from_words
from connectors.oaipmh.mapping import (
    WITHDRAWN_REASON,
    HarvestedRecord,
    Ignored,
    Mapped,
    MappingRules,
    Unmappable,
    datestamp_time,
    map_record,
)
from schemas.registry import Topic, parse_event
from schemas.types import DegreeLevel

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
RULES = MappingRules(
    source="urn:repository:repository.example.ac.id",
    student_id_field="description",
    student_id_pattern=re.compile(r"NIM:\s*(\d+)"),
)


def _thesis(oai_id: str = "oai:repository.example.ac.id:123456789/42", datestamp: str = "2026-11-20T02:15:00Z",
            **metadata: tuple[str, ...]) -> HarvestedRecord:  # fmt: skip
    values = {"title": ("Analisis Debit Sungai Brantas",), "description": ("Abstrak ...", "NIM: 2019100123")}
    values.update(metadata)
    return HarvestedRecord(oai_id, datestamp, False, values)


def _map(record: HarvestedRecord, known_student: str | None = None, rules: MappingRules = RULES):
    return map_record(record, rules, known_student=known_student, now=NOW)


def _parsed(outcome: Mapped) -> list:
    return [parse_event(json.dumps(o.event).encode(), Topic.DEPOSITS) for o in outcome.outgoing]


def test_an_archived_thesis_is_submitted_then_accepted_for_the_student_named_in_its_field() -> None:
    outcome = _map(_thesis())
    assert isinstance(outcome, Mapped)
    submitted, accepted = _parsed(outcome)
    assert (submitted.type, accepted.type) == ("thesis.deposit.submitted", "thesis.deposit.accepted")
    assert submitted.data.model_dump() == {
        "deposit_id": "oai:repository.example.ac.id:123456789/42", "student_id": "2019100123",
        "title": "Analisis Debit Sungai Brantas", "degree_level": DegreeLevel.S1,
    }  # fmt: skip
    assert accepted.data.repository_id == "oai:repository.example.ac.id:123456789/42"
    assert [o.key for o in outcome.outgoing] == ["2019100123", "2019100123"]
    assert {e.envelope.subject for e in (submitted, accepted)} == {"2019100123"}
    assert {e.envelope.source for e in (submitted, accepted)} == {"urn:repository:repository.example.ac.id"}


def test_both_events_carry_the_datestamp_and_the_acceptance_the_later_sequence() -> None:
    submitted, accepted = _parsed(_map(_thesis(datestamp="2026-11-20T02:15:00Z")))
    assert submitted.envelope.time == accepted.envelope.time == datetime(2026, 11, 20, 2, 15, tzinfo=UTC)
    assert int(accepted.envelope.sequence) > int(submitted.envelope.sequence)


def test_a_datestamp_ahead_of_our_clock_is_published_as_now() -> None:
    submitted, _ = _parsed(_map(_thesis(datestamp="2027-01-01T00:00:00Z")))
    assert submitted.envelope.time == NOW


def test_a_day_granularity_datestamp_is_midnight_utc() -> None:
    assert datestamp_time("2026-11-20", NOW) == datetime(2026, 11, 20, tzinfo=UTC)


def test_the_same_version_of_a_record_gives_the_same_ids_and_a_new_version_new_ones() -> None:
    first = [o.event["id"] for o in _map(_thesis()).outgoing]
    again = [o.event["id"] for o in _map(_thesis()).outgoing]
    changed = [o.event["id"] for o in _map(_thesis(datestamp="2026-11-21T00:00:00Z")).outgoing]
    assert first == again
    assert len(set(first)) == 2 and not set(first) & set(changed)


def test_a_deleted_record_rejects_the_deposit_of_the_student_harvested_before() -> None:
    deleted = HarvestedRecord("oai:repository.example.ac.id:123456789/42", "2026-11-25T00:00:00Z", deleted=True)
    outcome = _map(deleted, known_student="2019100123")
    assert isinstance(outcome, Mapped) and outcome.deleted
    [rejected] = _parsed(outcome)
    assert rejected.type == "thesis.deposit.rejected"
    assert rejected.data.model_dump() == {
        "deposit_id": "oai:repository.example.ac.id:123456789/42", "student_id": "2019100123",
        "reason": WITHDRAWN_REASON,
    }  # fmt: skip
    assert outcome.outgoing[0].key == "2019100123"


def test_a_deleted_record_never_published_is_ignored_not_counted_as_unmappable() -> None:
    deleted = HarvestedRecord("oai:repository.example.ac.id:123456789/7", "2026-11-25T00:00:00Z", deleted=True)
    assert isinstance(_map(deleted, known_student=None), Ignored)


def test_a_record_without_a_student_id_in_the_field_is_unmappable() -> None:
    outcome = _map(_thesis(description=("An abstract without a student number",)))
    assert isinstance(outcome, Unmappable)
    assert outcome.identifier == "oai:repository.example.ac.id:123456789/42"
    assert "description" in outcome.reason


def test_a_record_without_a_title_is_unmappable() -> None:
    outcome = _map(_thesis(title=("  ",)))
    assert isinstance(outcome, Unmappable) and "title" in outcome.reason


def test_a_record_with_an_unreadable_datestamp_is_unmappable() -> None:
    assert isinstance(_map(_thesis(datestamp="20. November 2026")), Unmappable)


def test_the_student_id_is_the_first_value_the_pattern_matches() -> None:
    rules = MappingRules(RULES.source, "identifier", re.compile(r"^nim:(\w+)$"))
    outcome = _map(_thesis(identifier=("http://hdl.handle.net/123/42", "nim:G64190123", "nim:OTHER")), rules=rules)
    assert isinstance(outcome, Mapped) and outcome.student_id == "G64190123"


def test_by_default_the_field_holds_the_student_id_alone() -> None:
    rules = MappingRules(RULES.source, "identifier")
    outcome = _map(_thesis(identifier=("http://hdl.handle.net/123/42 (handle)", " 2019100123 ")), rules=rules)
    assert isinstance(outcome, Mapped) and outcome.student_id == "2019100123"


def test_the_degree_level_comes_from_etdms_then_the_default() -> None:
    s2 = _map(_thesis(level=("1",)))
    default = _map(_thesis(), rules=MappingRules(RULES.source, "description", RULES.student_id_pattern,
                                                   DegreeLevel.D3))  # fmt: skip
    assert s2.outgoing[0].event["data"]["degree_level"] == "S2"
    assert default.outgoing[0].event["data"]["degree_level"] == "D3"


def test_an_overlong_title_is_cut_to_what_the_contract_takes() -> None:
    [submitted, _] = _parsed(_map(_thesis(title=("x" * 2500,))))
    assert len(submitted.data.title) == 2000


@pytest.mark.parametrize(
    ("value", "level"),
    [("0", DegreeLevel.S1), ("1", DegreeLevel.S2), ("2", DegreeLevel.S3), ("Sarjana Teknik", DegreeLevel.S1),
     ("Magister Manajemen", DegreeLevel.S2), ("Doktor Ilmu Hukum", DegreeLevel.S3), ("doctoral", DegreeLevel.S3),
     ("master's", DegreeLevel.S2), ("bachelor's", DegreeLevel.S1), ("Sarjana Terapan", DegreeLevel.D4),
     ("Diploma III", DegreeLevel.D3), ("Ahli Madya Komputer", DegreeLevel.D3), ("S-2", DegreeLevel.S2),
     ("Profesi Ners", DegreeLevel.PROFESI), ("Strata 1", DegreeLevel.S1)],
)  # fmt: skip
def test_degree_levels_and_names_a_repository_writes(value: str, level: DegreeLevel) -> None:
    assert level_from_words(value) == level


def test_an_unknown_level_word_says_nothing() -> None:
    assert level_from_words("Graduate") is None


def test_only_the_indonesian_names_of_the_final_work_in_dc_type_imply_a_level() -> None:
    assert level_from_type("Skripsi") == DegreeLevel.S1
    assert level_from_type("Tesis") == DegreeLevel.S2
    assert level_from_type("Disertasi") == DegreeLevel.S3
    assert level_from_type("Thesis") is None


def test_etdms_level_wins_over_the_degree_name_and_the_type() -> None:
    assert degree_level(["2"], ["Magister"], ["Skripsi"]) == DegreeLevel.S3
    assert degree_level(["unknown"], ["Magister Sains"], ["Skripsi"]) == DegreeLevel.S2
    assert degree_level([], [], ["Skripsi"]) == DegreeLevel.S1
    assert degree_level([], [], ["Thesis"]) is None
