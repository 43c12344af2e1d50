"""JSON Schema export: one file per event type, envelope included."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from schemas.envelope import CloudEvent
from schemas.registry import INBOUND_TYPES, OUTBOUND_TYPES

_DIALECT = "https://json-schema.org/draft/2020-12/schema"


def event_schema(event_type: str) -> dict[str, Any]:
    """The JSON Schema of a whole CloudEvent of ``event_type``, data included."""
    topic, model = (INBOUND_TYPES | OUTBOUND_TYPES)[event_type]
    envelope = CloudEvent.model_json_schema(mode="validation")
    data = model.model_json_schema(mode="serialization" if event_type in OUTBOUND_TYPES else "validation")
    definitions: dict[str, Any] = {}
    definitions.update(envelope.pop("$defs", {}))
    definitions.update(data.pop("$defs", {}))
    envelope["properties"]["type"] = {"const": event_type, "title": "Type", "type": "string"}
    envelope["properties"]["data"] = data
    schema: dict[str, Any] = {"$schema": _DIALECT, "$id": f"urn:graduation-clearance:schema:{event_type}"}
    schema.update(envelope)
    schema["title"] = event_type
    schema["description"] = f"A {event_type} CloudEvent on the {topic.value} topic (structured JSON mode)."
    if definitions:
        schema["$defs"] = definitions
    return schema


def export_schemas(directory: Path) -> list[Path]:
    """Write ``<type>.schema.json`` for every inbound and outbound type; return the paths."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for event_type in sorted(INBOUND_TYPES | OUTBOUND_TYPES):
        path = directory / f"{event_type}.schema.json"
        path.write_text(json.dumps(event_schema(event_type), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        written.append(path)
    return written
