"""Which event type lives on which topic, and which model validates its data.

:func:`parse_event` turns the raw bytes of a Kafka record value into a
validated :class:`InboundEvent` or raises :class:`InvalidEvent` with the
dead-letter ``error-kind`` that names what is wrong.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import orjson
from pydantic import BaseModel, ValidationError

from schemas import inbound, outbound
from schemas.envelope import CloudEvent


class Topic(StrEnum):
    """Logical topic names (SPEC §4.2); the deployed name may carry a prefix."""

    APPLICATIONS = "graduation.applications"
    CIRCULATION = "library.circulation"
    DEPOSITS = "thesis.deposits"
    CERTIFICATES = "clearance.certificates"
    STATUS = "clearance.status"
    DEAD_LETTER = "clearance.dead-letter"


INBOUND_TOPICS: tuple[Topic, ...] = (Topic.APPLICATIONS, Topic.CIRCULATION, Topic.DEPOSITS)

INBOUND_TYPES: dict[str, tuple[Topic, type[inbound.InboundData]]] = {
    "graduation.application.submitted": (Topic.APPLICATIONS, inbound.ApplicationSubmitted),
    "graduation.application.withdrawn": (Topic.APPLICATIONS, inbound.ApplicationWithdrawn),
    "library.patron.linked": (Topic.CIRCULATION, inbound.PatronLinked),
    "library.loan.opened": (Topic.CIRCULATION, inbound.LoanOpened),
    "library.loan.renewed": (Topic.CIRCULATION, inbound.LoanRenewed),
    "library.loan.returned": (Topic.CIRCULATION, inbound.LoanReturned),
    "library.loan.lost": (Topic.CIRCULATION, inbound.LoanLost),
    "library.fine.assessed": (Topic.CIRCULATION, inbound.FineAssessed),
    "library.fine.paid": (Topic.CIRCULATION, inbound.FinePaid),
    "library.fine.waived": (Topic.CIRCULATION, inbound.FineWaived),
    "library.training.completed": (Topic.CIRCULATION, inbound.TrainingCompleted),
    "library.patron.snapshot": (Topic.CIRCULATION, inbound.PatronSnapshot),
    "thesis.deposit.submitted": (Topic.DEPOSITS, inbound.DepositSubmitted),
    "thesis.deposit.accepted": (Topic.DEPOSITS, inbound.DepositAccepted),
    "thesis.deposit.rejected": (Topic.DEPOSITS, inbound.DepositRejected),
}

OUTBOUND_TYPES: dict[str, tuple[Topic, type[outbound.OutboundData]]] = {
    "clearance.status.changed": (Topic.STATUS, outbound.StatusChanged),
    "clearance.certificate.issued": (Topic.CERTIFICATES, outbound.CertificateIssued),
    "clearance.certificate.revoked": (Topic.CERTIFICATES, outbound.CertificateRevoked),
}


class ErrorKind(StrEnum):
    """The ``error-kind`` header of a dead-lettered message."""

    INVALID_JSON = "invalid-json"
    NOT_CLOUDEVENT = "invalid-cloudevent"
    UNKNOWN_TYPE = "unknown-type"
    WRONG_TOPIC = "wrong-topic"
    SCHEMA_VIOLATION = "schema"
    PROCESSING_FAILED = "processing-failed"
    UNAUTHORIZED = "unauthorized"
    TIME_IN_FUTURE = "time-in-future"
    TOO_LARGE = "too-large"


class InvalidEvent(Exception):
    """A message that cannot be processed; it belongs in the dead-letter topic."""

    def __init__(self, kind: ErrorKind, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message


@dataclass(frozen=True, slots=True)
class InboundEvent:
    """A validated inbound event: its envelope and its typed data."""

    envelope: CloudEvent
    data: inbound.InboundData

    @property
    def type(self) -> str:
        return self.envelope.type

    @property
    def key(self) -> tuple[str, str]:
        """The identity of the event: a repeat of (source, id) is a duplicate."""
        return (self.envelope.source, self.envelope.id)


def _describe(error: ValidationError) -> str:
    parts = []
    for item in error.errors(include_url=False, include_input=False)[:10]:
        location = ".".join(str(p) for p in item["loc"]) or "(root)"
        parts.append(f"{location}: {item['msg']}")
    return "; ".join(parts)


def _storable(value: Any) -> bool:
    """Whether every string in a JSON value is text a database can keep: no lone surrogates, no NUL."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return False
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return False
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return True


_LONG_NUMBER = re.compile(rb"[0-9]{19}")


def _loads(value: bytes) -> tuple[Any, bool]:
    """The JSON value of ``value``, and whether its text is known to be storable without a look at it.

    orjson reads the JSON the producers write in a quarter of the time; what it refuses (a lone
    surrogate, ``NaN``) is read by ``json`` as before, and so is a value with a run of 19 digits or
    more (orjson reads an integer beyond 64 bits as a float), so every record gets the value, or
    the error, it always got. Text orjson read has no lone surrogate, and no NUL unless the bytes
    spell its escape.
    """
    if _LONG_NUMBER.search(value) is None:
        try:
            return orjson.loads(value), b"\\u0000" not in value
        except orjson.JSONDecodeError:
            pass
    try:
        return json.loads(value), False
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise InvalidEvent(ErrorKind.INVALID_JSON, f"not UTF-8 JSON: {exc}") from None


def parse_event(value: bytes | None, topic: Topic | None = None) -> InboundEvent:
    """Validate a record value as an inbound CloudEvent of a known type.

    ``topic`` is the logical topic the record came from; a type that belongs
    on another topic is refused, so that keying and ordering stay as the
    contract says.
    """
    if value is None:
        raise InvalidEvent(ErrorKind.INVALID_JSON, "record has no value (tombstone)")
    raw, checked = _loads(value)
    if not isinstance(raw, dict):
        raise InvalidEvent(ErrorKind.NOT_CLOUDEVENT, "a CloudEvent is a JSON object")
    if not checked and not _storable(raw):
        raise InvalidEvent(ErrorKind.SCHEMA_VIOLATION, "text contains a NUL character or a lone surrogate")
    try:
        envelope = CloudEvent.model_validate(raw)
    except ValidationError as exc:
        raise InvalidEvent(ErrorKind.NOT_CLOUDEVENT, _describe(exc)) from None
    entry = INBOUND_TYPES.get(envelope.type)
    if entry is None:
        raise InvalidEvent(ErrorKind.UNKNOWN_TYPE, f"unknown event type {envelope.type!r}")
    expected_topic, model = entry
    if topic is not None and topic != expected_topic:
        raise InvalidEvent(
            ErrorKind.WRONG_TOPIC, f"{envelope.type} belongs on {expected_topic.value}, not {topic.value}"
        )
    try:
        data = model.model_validate(envelope.data)
    except ValidationError as exc:
        raise InvalidEvent(ErrorKind.SCHEMA_VIOLATION, f"{envelope.type}: {_describe(exc)}") from None
    return InboundEvent(envelope=envelope, data=data)


def model_for(event_type: str) -> type[BaseModel]:
    """The ``data`` model of an inbound or outbound event type."""
    if event_type in INBOUND_TYPES:
        return INBOUND_TYPES[event_type][1]
    return OUTBOUND_TYPES[event_type][1]
