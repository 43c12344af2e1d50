"""The AsyncAPI 3.0 document of the wire contract, generated from the pydantic models.

Every topic is a channel, every event type a message whose payload is the
JSON Schema of the whole CloudEvent (:func:`schemas.export.event_schema`),
and every channel has one operation from the service's point of view:
``receive`` for the inbound topics, ``send`` for what it publishes. Kafka
bindings give the record key, the recommended partitions and the topic
configuration (:mod:`schemas.topology`).

AsyncAPI resolves ``$ref`` against the whole document, so the models'
shared definitions move from each schema's ``$defs`` to
``components/schemas`` and their references are rewritten to point there.
"""

from __future__ import annotations

import json
from importlib import metadata
from typing import Any

from schemas.envelope import CONTENT_TYPE
from schemas.export import event_schema
from schemas.registry import INBOUND_TYPES, OUTBOUND_TYPES, ErrorKind, Topic
from schemas.topology import LAYOUT

ASYNCAPI_VERSION = "3.0.0"
KAFKA_BINDING_VERSION = "0.5.0"
DEAD_LETTER_MESSAGE = "clearance.dead-letter.record"

_TOPIC_SUMMARIES = {
    Topic.APPLICATIONS: "Graduation applications announced by the registrar and academic units.",
    Topic.CIRCULATION: "Loans, fines, patron links, trainings and reconciliation snapshots from every library.",
    Topic.DEPOSITS: "Deposits of final works (skripsi, tesis, disertasi, tugas akhir) from the deposit desk.",
    Topic.CERTIFICATES: "Signed clearance certificates and their revocations.",
    Topic.STATUS: "Every change of an application's status, with every blocking reason.",
    Topic.DEAD_LETTER: "Records that could not be applied, unchanged, with why and where they came from.",
}

_KEY_DESCRIPTIONS = {
    "student id": "The student id (the CloudEvent subject).",
    "patron id": "The patron id at the library (the CloudEvent subject).",
    "original key": "The key of the record that could not be applied, unchanged.",
}


def _version() -> str:
    try:
        return metadata.version("graduation-clearance")
    except metadata.PackageNotFoundError:  # running from a source tree that is not installed
        return "0.0.0"


def _rewrite_refs(node: Any) -> Any:
    """Point ``#/$defs/X`` references at ``#/components/schemas/X``."""
    if isinstance(node, dict):
        return {
            k: (
                v.replace("#/$defs/", "#/components/schemas/")
                if k == "$ref" and isinstance(v, str)
                else _rewrite_refs(v)
            )
            for k, v in node.items()
        }
    if isinstance(node, list):
        return [_rewrite_refs(v) for v in node]
    return node


def _payload_schemas() -> tuple[dict[str, Any], dict[str, Any]]:
    """The payload schema of every event type, and the definitions they share."""
    payloads: dict[str, Any] = {}
    shared: dict[str, Any] = {}
    for event_type in sorted(INBOUND_TYPES | OUTBOUND_TYPES):
        schema = event_schema(event_type)
        for name, definition in schema.pop("$defs", {}).items():
            definition = _rewrite_refs(definition)
            if name in shared and shared[name] != definition:
                raise ValueError(f"two models define {name!r} differently; rename one of them")
            shared[name] = definition
        schema.pop("$schema", None)
        schema.pop("$id", None)
        payloads[event_type] = _rewrite_refs(schema)
    return payloads, shared


def _key_binding(layout_key: str) -> dict[str, Any]:
    return {
        "key": {"type": "string", "description": _KEY_DESCRIPTIONS[layout_key]},
        "bindingVersion": KAFKA_BINDING_VERSION,
    }


def _headers(topic: Topic) -> dict[str, Any]:
    if topic is Topic.DEAD_LETTER:
        kinds = [k.value for k in ErrorKind]
        return {
            "type": "object",
            "required": ["error-kind", "error-message", "origin-topic", "origin-partition", "origin-offset"],
            "properties": {
                "error-kind": {"type": "string", "enum": kinds, "description": "What is wrong with the record."},
                "error-message": {"type": "string", "description": "A readable explanation."},
                "origin-topic": {"type": "string", "description": "The topic the record was read from."},
                "origin-partition": {"type": "string", "pattern": "^\\d+$", "description": "Its partition."},
                "origin-offset": {"type": "string", "pattern": "^\\d+$", "description": "Its offset."},
                "value-truncated": {
                    "type": "string",
                    "pattern": "^\\d+$",
                    "description": "Present when the value was cut to fit the broker: its original length.",
                },
            },
        }
    return {
        "type": "object",
        "properties": {"content-type": {"type": "string", "const": CONTENT_TYPE}},
    }


def _message(event_type: str, topic: Topic, direction: str) -> dict[str, Any]:
    model = (INBOUND_TYPES | OUTBOUND_TYPES)[event_type][1]
    summary = (model.__doc__ or event_type).strip().splitlines()[0]
    message: dict[str, Any] = {
        "name": event_type,
        "title": event_type,
        "summary": summary,
        "contentType": CONTENT_TYPE,
        "payload": {"$ref": f"#/components/schemas/{event_type}"},
        "bindings": {"kafka": _key_binding(LAYOUT[topic].key)},
    }
    if direction == "out":
        message["headers"] = _headers(topic)
    return message


def _dead_letter_message() -> dict[str, Any]:
    return {
        "name": DEAD_LETTER_MESSAGE,
        "title": "Dead letter",
        "summary": "The original bytes of a record that could not be applied (G7).",
        "contentType": "application/octet-stream",
        "headers": _headers(Topic.DEAD_LETTER),
        "payload": {
            "type": "string",
            "format": "binary",
            "description": "The record value exactly as it arrived (possibly not JSON, possibly not UTF-8).",
        },
        "bindings": {"kafka": _key_binding(LAYOUT[Topic.DEAD_LETTER].key)},
    }


def _topic_configuration(topic: Topic) -> dict[str, Any]:
    config = LAYOUT[topic].config
    return {"cleanup.policy": config["cleanup.policy"].split(","), "retention.ms": int(config["retention.ms"])}


def _operation_id(direction: str, topic: Topic) -> str:
    return f"{'receive' if direction == 'in' else 'send'}.{topic.value}"


def asyncapi_document() -> dict[str, Any]:
    """The AsyncAPI 3.0 document of every channel, operation and message of the contract."""
    payloads, shared = _payload_schemas()
    types_by_topic: dict[Topic, list[str]] = {t: [] for t in Topic}
    for event_type, (topic, _model) in sorted((INBOUND_TYPES | OUTBOUND_TYPES).items()):
        types_by_topic[topic].append(event_type)

    messages: dict[str, Any] = {}
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    for topic in Topic:
        layout = LAYOUT[topic]
        names = list(types_by_topic[topic])
        for event_type in names:
            messages[event_type] = _message(event_type, topic, layout.direction)
        if topic is Topic.DEAD_LETTER:
            names = [DEAD_LETTER_MESSAGE]
            messages[DEAD_LETTER_MESSAGE] = _dead_letter_message()
        channels[topic.value] = {
            "address": topic.value,
            "title": topic.value,
            "summary": _TOPIC_SUMMARIES[topic],
            "description": (
                f"Key: {layout.key}. Deployed as `<CLEARANCE_TOPIC_PREFIX>{topic.value}` "
                "(the prefix is empty by default)."
            ),
            "servers": [{"$ref": "#/servers/kafka"}],
            "messages": {name: {"$ref": f"#/components/messages/{name}"} for name in names},
            "bindings": {
                "kafka": {
                    "topic": topic.value,
                    "partitions": layout.partitions,
                    "topicConfiguration": _topic_configuration(topic),
                    "bindingVersion": KAFKA_BINDING_VERSION,
                }
            },
        }
        operation: dict[str, Any] = {
            "action": "receive" if layout.direction == "in" else "send",
            "channel": {"$ref": f"#/channels/{topic.value}"},
            "summary": (
                f"The service consumes {topic.value}."
                if layout.direction == "in"
                else f"The service publishes to {topic.value}."
            ),
            "messages": [{"$ref": f"#/channels/{topic.value}/messages/{name}"} for name in names],
        }
        if layout.direction == "in":
            operation["bindings"] = {
                "kafka": {
                    "groupId": {
                        "type": "string",
                        "description": "One consumer group per inbound topic: <CLEARANCE_GROUP_ID>.<topic>.",
                        "examples": [f"graduation-clearance.{topic.value}"],
                    },
                    "bindingVersion": KAFKA_BINDING_VERSION,
                }
            }
        operations[_operation_id(layout.direction, topic)] = operation

    return {
        "asyncapi": ASYNCAPI_VERSION,
        "info": {
            "title": "Graduation clearance (bebas pustaka)",
            "version": _version(),
            "description": (
                "Library clearance for graduation over Kafka. Every message value is a CloudEvents 1.0 event "
                "in structured JSON mode; the record key is the event's subject. Generated from the pydantic "
                "models by `clearance schemas asyncapi`; do not edit by hand."
            ),
            "license": {"name": "Apache-2.0"},
        },
        "defaultContentType": CONTENT_TYPE,
        "servers": {
            "kafka": {
                "host": "localhost:9092",
                "protocol": "kafka",
                "description": "Any Kafka cluster; the service is configured by CLEARANCE_KAFKA_BOOTSTRAP_SERVERS.",
            }
        },
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages, "schemas": {**dict(sorted(shared.items())), **payloads}},
    }


def render(document: dict[str, Any]) -> str:
    """The document as the repository keeps it: indented JSON, one trailing newline."""
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"
