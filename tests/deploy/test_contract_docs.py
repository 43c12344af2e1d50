"""The contract inside the repository: docs/contract.md, docs/schemas/ and every Markdown link.

docs/contract.md must name every event type, topic, status, reason code and dead-letter error
kind the code knows, and list every field of every event type and every policy key with its
built-in default; docs/schemas/ must be exactly what ``schemas.export`` writes; no Markdown file
may link out of the repository or at nothing.
"""

from __future__ import annotations

import dataclasses
import tomllib
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from markdown_text import broken_links, first_code_span, markdown_files, sections, table_rows
from pydantic import BaseModel

from clearance.config.policy_file import load_policy
from schemas import outbound
from schemas.envelope import CloudEvent
from schemas.export import export_schemas
from schemas.inbound import SnapshotLoan
from schemas.registry import INBOUND_TYPES, OUTBOUND_TYPES, ErrorKind, Topic

ROOT = Path(__file__).resolve().parents[2]
CONTRACT = ROOT / "docs" / "contract.md"
SCHEMAS = ROOT / "docs" / "schemas"

EVENT_MODELS: dict[str, type[BaseModel]] = {t: model for t, (_, model) in (INBOUND_TYPES | OUTBOUND_TYPES).items()}
NESTED_MODELS: dict[str, type[BaseModel]] = {
    "open_loans[]": SnapshotLoan,
    "reasons[]": outbound.Reason,
    "certificate": outbound.Certificate,
    "basis": outbound.Basis,
    "proof": outbound.Proof,
}


def _contract() -> str:
    return CONTRACT.read_text(encoding="utf-8")


def _unnamed(names: list[str]) -> list[str]:
    text = _contract()
    return [name for name in names if f"`{name}`" not in text]


def _field_table(name: str) -> dict[str, str]:
    """Field → required column of the table under the heading whose first code span is ``name``."""
    matching = [s for s in sections(_contract()) if first_code_span(s.title) == name or s.title == name]
    assert len(matching) == 1, f"docs/contract.md needs exactly one heading for {name!r}, found {len(matching)}"
    rows = table_rows(matching[0].lines)
    assert rows, f"no field table under the heading of {name!r}"
    return {first_code_span(row[0]) or row[0]: row[2] for row in rows}


def _expected_table(model: type[BaseModel]) -> dict[str, str]:
    return {field: "yes" if info.is_required() else "no" for field, info in model.model_fields.items()}


def test_the_committed_json_schemas_are_what_the_models_export(tmp_path: Path) -> None:
    export_schemas(tmp_path)
    expected = {p.name: p.read_text(encoding="utf-8") for p in tmp_path.iterdir()}
    committed = {p.name: p.read_text(encoding="utf-8") for p in SCHEMAS.iterdir()} if SCHEMAS.is_dir() else {}
    stale = sorted(name for name in expected.keys() | committed.keys() if expected.get(name) != committed.get(name))
    assert not stale, f"docs/schemas/ is stale in {stale}: run `clearance schemas export docs/schemas` and commit it"


def test_the_export_writes_one_schema_per_event_type(tmp_path: Path) -> None:
    written = export_schemas(tmp_path)
    assert sorted(p.name for p in written) == sorted(f"{t}.schema.json" for t in EVENT_MODELS)


def test_the_contract_names_every_event_type() -> None:
    missing = _unnamed(sorted(EVENT_MODELS))
    assert not missing, f"event types not named in docs/contract.md: {missing}"


def test_the_contract_names_every_topic() -> None:
    missing = _unnamed([t.value for t in Topic])
    assert not missing, f"topics not named in docs/contract.md: {missing}"


def test_the_contract_names_every_status() -> None:
    missing = _unnamed([s.value for s in outbound.Status])
    assert not missing, f"status values not named in docs/contract.md: {missing}"


def test_the_contract_names_every_reason_code() -> None:
    missing = _unnamed([c.value for c in outbound.ReasonCode])
    assert not missing, f"reason codes not named in docs/contract.md: {missing}"


def test_the_contract_names_every_dead_letter_error_kind() -> None:
    missing = _unnamed([k.value for k in ErrorKind])
    assert not missing, (
        f"error kinds the code writes into the error-kind header but docs/contract.md does not name: {missing}; "
        "a contract's kind is never renamed: fix the code, or add a new kind to the contract"
    )


@pytest.mark.parametrize("event_type", sorted(EVENT_MODELS))
def test_the_contract_lists_every_field_of_an_event_type_and_whether_it_is_required(event_type: str) -> None:
    assert _field_table(event_type) == _expected_table(EVENT_MODELS[event_type])


@pytest.mark.parametrize("name", sorted(NESTED_MODELS))
def test_the_contract_lists_every_field_of_a_nested_object_and_whether_it_is_required(name: str) -> None:
    assert _field_table(name) == _expected_table(NESTED_MODELS[name])


def test_the_contract_lists_every_envelope_attribute_and_whether_it_is_required() -> None:
    assert _field_table("Envelope") == _expected_table(CloudEvent)


def _comparable(value: Any, like: Any) -> Any:
    """A documented or built-in policy value in a form both compare in: sets sorted, amounts as Decimal."""
    if isinstance(like, Decimal):
        return Decimal(str(value)).normalize()
    if isinstance(like, (set, frozenset, list)):
        return sorted(str(item) for item in value)
    return value


def test_the_contract_lists_every_policy_key_with_the_built_in_default() -> None:
    built_in = load_policy(None).default
    expected = {f.name: getattr(built_in, f.name) for f in dataclasses.fields(built_in)}
    (policy,) = [s for s in sections(_contract()) if s.title == "Policy file"]
    documented = {}
    for row in table_rows(policy.lines):
        key = first_code_span(row[0])
        documented[key] = tomllib.loads(f"v = {first_code_span(row[1])}")["v"]
    assert sorted(documented) == sorted(expected)
    for key, value in expected.items():
        assert _comparable(documented[key], value) == _comparable(value, value), f"default of {key}"


def test_markdown_files_link_only_to_files_and_headings_inside_the_repository() -> None:
    documents = markdown_files(ROOT)
    assert ROOT / "README.md" in documents and CONTRACT in documents
    problems = [problem for document in documents for problem in broken_links(document, ROOT)]
    assert not problems, "\n".join(problems)


def test_the_link_check_reports_a_link_out_of_the_repository_a_missing_file_and_a_missing_heading(
    tmp_path: Path,
) -> None:
    repository = tmp_path / "repo"
    (repository / "docs").mkdir(parents=True)
    (repository / "docs" / "a.md").write_text("# A\n\n## Known heading\n", encoding="utf-8")
    (repository / "README.md").write_text(
        "[spec](../shared/SPEC.md) [gone](docs/b.md) [bad anchor](docs/a.md#unknown)\n"
        "[fine](docs/a.md#known-heading) [web](https://example.org/x) `[code](../x.md)`\n"
        "```\n[fenced](../y.md)\n```\n",
        encoding="utf-8",
    )
    assert broken_links(repository / "README.md", repository) == [
        "README.md:1: ../shared/SPEC.md leaves the repository",
        "README.md:1: docs/b.md points at a file that does not exist",
        "README.md:1: docs/a.md#unknown names no heading of docs/a.md",
    ]
