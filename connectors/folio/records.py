"""FOLIO's own records as they arrive on FOLIO's Kafka topics (the edge: pydantic, unknown fields ignored).

Shapes follow the published schemas: mod-circulation-storage ``ramls/loan.json``
(loan records, v17: ``declaredLostDate`` and ``claimedReturnedDate`` added in later
releases), mod-users ``ramls/userdata.json`` (users), the domain-event envelope both
publish (``{"id","type","tenant","timestamp","data":{"old","new"}}``), and
mod-feesfines' ``FEE_FINE_BALANCE_CHANGED`` event as mod-pubsub carries it (the
payload is a JSON string inside the pub-sub event).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator


class UnmappableRecord(Exception):
    """A FOLIO record the bridge cannot turn into contract events; ``identity`` names it for the log."""

    def __init__(self, reason: str, identity: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.identity = identity


class FolioModel(BaseModel):
    """Base of FOLIO record models: FOLIO adds fields over releases, so unknown ones are ignored."""

    model_config = ConfigDict(extra="ignore", frozen=True)


def folio_time(value: str) -> datetime:
    """A FOLIO date-time as an aware datetime.

    FOLIO writes ISO 8601 with ``Z``, ``+00:00`` or Java's ``+0000``; ``loanDate`` and
    ``returnDate`` are not format-validated by the schema, so a value without an offset
    is read as UTC (FOLIO stores UTC).
    """
    parsed = datetime.fromisoformat(value)
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def _checked_time(value: str | None) -> str | None:
    if value is not None:
        try:
            folio_time(value)
        except (TypeError, ValueError):
            raise ValueError(f"not an ISO 8601 date-time: {value!r}") from None
    return value


class Metadata(FolioModel):
    """``raml-util/schemas/metadata.schema``: who changed the record, when."""

    createdDate: str | None = None
    updatedDate: str | None = None

    _dates = field_validator("createdDate", "updatedDate")(_checked_time)


class LoanStatus(FolioModel):
    name: str | None = None


class Loan(FolioModel):
    """A loan of mod-circulation-storage (``ramls/loan.json``)."""

    id: str = Field(min_length=1)
    userId: str | None = None
    itemId: str = Field(min_length=1)
    status: LoanStatus | None = None
    loanDate: str
    dueDate: str | None = None
    returnDate: str | None = None
    systemReturnDate: str | None = None
    action: str | None = None
    itemStatus: str | None = None
    renewalCount: int = 0
    declaredLostDate: str | None = None
    claimedReturnedDate: str | None = None
    metadata: Metadata | None = None

    _dates = field_validator(
        "loanDate", "dueDate", "returnDate", "systemReturnDate", "declaredLostDate", "claimedReturnedDate"
    )(_checked_time)

    @property
    def is_open(self) -> bool:
        return (self.status.name if self.status else None) == "Open"

    @property
    def is_closed(self) -> bool:
        return (self.status.name if self.status else None) == "Closed"

    @property
    def updated(self) -> str | None:
        return self.metadata.updatedDate if self.metadata else None


class User(FolioModel):
    """A user of mod-users (``ramls/userdata.json``); only what the bridge reads."""

    id: str = Field(min_length=1)
    username: str | None = None
    barcode: str | None = None
    externalSystemId: str | None = None
    active: bool | None = None
    metadata: Metadata | None = None


class DomainEvent(FolioModel):
    """The envelope of FOLIO's domain events (loans, users): the record before and after."""

    id: str | None = None
    type: Literal["CREATED", "UPDATED", "DELETED", "ALL_DELETED"]
    tenant: str | None = None
    timestamp: int | None = None
    data: dict[str, Any] | None = None

    @property
    def old(self) -> dict[str, Any] | None:
        return (self.data or {}).get("old")

    @property
    def new(self) -> dict[str, Any] | None:
        return (self.data or {}).get("new")

    @property
    def time(self) -> datetime | None:
        """When FOLIO published the event (epoch milliseconds)."""
        return datetime.fromtimestamp(self.timestamp / 1000, UTC) if self.timestamp is not None else None


class BalanceChanged(FolioModel):
    """The payload of ``FEE_FINE_BALANCE_CHANGED`` (mod-feesfines): what remains owed on one account.

    A deleted account's payload has ``feeFineId`` and ``balance`` 0 and no ``userId``.
    """

    id: str | None = None
    feeFineId: str = Field(min_length=1)
    userId: str | None = None
    feeFineTypeId: str | None = None
    loanId: str | None = None
    balance: Decimal

    @field_validator("balance")
    @classmethod
    def _finite(cls, value: Decimal) -> Decimal:
        if not value.is_finite() or value < 0:
            raise ValueError("balance must be a finite, non-negative number")
        return value


class PubSubEvent(FolioModel):
    """A record of mod-pubsub's Kafka topics: ``eventPayload`` is a JSON string."""

    id: str | None = None
    eventType: str
    eventPayload: str
    eventMetadata: dict[str, Any] | None = None

    def balance_changed(self) -> BalanceChanged:
        """The decoded ``FEE_FINE_BALANCE_CHANGED`` payload."""
        if self.eventType != "FEE_FINE_BALANCE_CHANGED":
            raise UnmappableRecord(f"event type {self.eventType!r} is not FEE_FINE_BALANCE_CHANGED", self.id or "")
        try:
            # parse_float keeps the amount exact: 0.1 + 0.2 must not become 0.30000000000000004.
            payload = json.loads(self.eventPayload, parse_float=Decimal)
            return BalanceChanged.model_validate(payload)
        except (ValueError, ValidationError) as exc:
            raise UnmappableRecord(f"eventPayload: {_first_line(exc)}", self.id or "") from None


def parse_json(value: bytes | None, model: type[FolioModel], what: str) -> Any:
    """Validate a Kafka record value as ``model``; raise :class:`UnmappableRecord` saying why not."""
    if value is None:
        raise UnmappableRecord(f"{what}: record has no value")
    try:
        return model.model_validate_json(value)
    except ValidationError as exc:
        raise UnmappableRecord(f"{what}: {_first_line(exc)}") from None


def parse_record(raw: dict[str, Any] | None, model: type[FolioModel], what: str, identity: str) -> Any:
    """Validate a loan or user inside a domain event; ``None`` stays ``None``."""
    if raw is None:
        return None
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        raise UnmappableRecord(f"{what}: {_first_line(exc)}", identity) from None


def _first_line(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        item = exc.errors(include_url=False, include_input=False)[0]
        location = ".".join(str(p) for p in item["loc"]) or "(root)"
        return f"{location}: {item['msg']}"
    return str(exc).splitlines()[0]
