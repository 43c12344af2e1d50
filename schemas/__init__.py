"""The wire contract of the graduation clearance service (SPEC §4).

Pydantic v2 models of the CloudEvents envelope and of every ``data`` type,
the registry that maps event types to models and topics, and JSON Schema
export. Nothing here knows about Kafka or the database.
"""

from schemas.envelope import CloudEvent
from schemas.registry import INBOUND_TYPES, OUTBOUND_TYPES, InboundEvent, Topic, parse_event

__all__ = ["INBOUND_TYPES", "OUTBOUND_TYPES", "CloudEvent", "InboundEvent", "Topic", "parse_event"]
