"""The AsyncAPI document: generated from the models, committed, and valid for the AsyncAPI project's parser."""

from __future__ import annotations

import json

from click.testing import CliRunner
from validators import ROOT, node_tool, run

from clearance.cli.main import main
from schemas.asyncapi import DEAD_LETTER_MESSAGE, asyncapi_document, render
from schemas.export import event_schema
from schemas.registry import INBOUND_TOPICS, INBOUND_TYPES, OUTBOUND_TYPES, Topic
from schemas.topology import LAYOUT

COMMITTED = ROOT / "docs" / "asyncapi.json"


def _resolve(document: dict, ref: str) -> dict:
    node = document
    for part in ref.removeprefix("#/").split("/"):
        node = node[part]
    return node


def _inline(document: dict, node):
    """The schema with every local reference replaced by what it points at."""
    if isinstance(node, dict):
        if "$ref" in node:
            return _inline(document, _resolve(document, node["$ref"]))
        return {k: _inline(document, v) for k, v in node.items()}
    if isinstance(node, list):
        return [_inline(document, v) for v in node]
    return node


def test_the_committed_document_is_what_the_models_generate() -> None:
    assert COMMITTED.read_text(encoding="utf-8") == render(asyncapi_document()), (
        "docs/asyncapi.json is stale: run `clearance schemas asyncapi -o docs/asyncapi.json` and commit it"
    )


def test_every_topic_is_a_channel_with_its_partitions_and_one_operation_from_the_service_side() -> None:
    document = json.loads(COMMITTED.read_text(encoding="utf-8"))
    assert set(document["channels"]) == {t.value for t in Topic}
    for topic in Topic:
        binding = document["channels"][topic.value]["bindings"]["kafka"]
        assert binding["partitions"] == LAYOUT[topic].partitions
        assert binding["topic"] == topic.value
        operations = [op for op in document["operations"].values() if op["channel"]["$ref"] == f"#/channels/{topic}"]
        assert [op["action"] for op in operations] == ["receive" if topic in INBOUND_TOPICS else "send"]


def test_every_event_type_is_a_message_on_its_topic_whose_payload_is_the_models_schema() -> None:
    document = json.loads(COMMITTED.read_text(encoding="utf-8"))
    for event_type, (topic, _model) in (INBOUND_TYPES | OUTBOUND_TYPES).items():
        channel_messages = document["channels"][topic.value]["messages"]
        assert event_type in channel_messages, f"{event_type} missing from channel {topic}"
        message = _resolve(document, channel_messages[event_type]["$ref"])
        expected = event_schema(event_type)
        expected_defs = expected.pop("$defs", {})
        for key in ("$schema", "$id"):
            expected.pop(key)
        inlined_expected = _inline({"$defs": expected_defs}, expected)
        assert _inline(document, message["payload"]) == inlined_expected
        assert message["bindings"]["kafka"]["key"]["type"] == "string"


def test_the_dead_letter_channel_carries_the_original_bytes_with_the_error_headers() -> None:
    document = asyncapi_document()
    message = document["components"]["messages"][DEAD_LETTER_MESSAGE]
    assert message["payload"]["format"] == "binary"
    assert set(message["headers"]["required"]) == {
        "error-kind", "error-message", "origin-topic", "origin-partition", "origin-offset",
    }  # fmt: skip


def test_clearance_schemas_asyncapi_writes_the_document(tmp_path) -> None:
    out = tmp_path / "nested" / "asyncapi.json"
    result = CliRunner().invoke(main, ["schemas", "asyncapi", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert json.loads(out.read_text(encoding="utf-8")) == asyncapi_document()
    printed = CliRunner().invoke(main, ["schemas", "asyncapi"])
    assert json.loads(printed.output)["asyncapi"] == "3.0.0"


def test_the_asyncapi_parser_accepts_the_committed_document() -> None:
    command = node_tool("asyncapi", "@asyncapi/parser")
    result = run([*command, str(COMMITTED)])
    assert result.returncode == 0, result.stdout + result.stderr
    assert "VALID" in result.stdout and "6 channels, 6 operations, 19 messages" in result.stdout


def test_the_asyncapi_parser_rejects_a_broken_document(tmp_path) -> None:
    # Shows the validator can fail: an operation with an action AsyncAPI 3 does not know.
    document = asyncapi_document()
    document["operations"]["send.clearance.status"]["action"] = "publish"
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps(document), encoding="utf-8")
    result = run([*node_tool("asyncapi", "@asyncapi/parser"), str(broken)])
    assert result.returncode == 1
    assert "operations/send.clearance.status/action" in result.stdout
