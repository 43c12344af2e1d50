"""The CloudEvents 1.0 envelope in structured JSON mode (SPEC §4.1)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from schemas.types import Identifier, Sequence, Timestamp

CONTENT_TYPE = "application/cloudevents+json"


class CloudEvent(BaseModel):
    """A CloudEvent as it travels on every topic, in and out.

    ``time`` is required here although CloudEvents makes it optional: the
    service orders the facts of one loan, fine or deposit by it (G5).
    Unknown extension attributes are accepted and ignored.
    """

    model_config = ConfigDict(extra="allow", frozen=True)

    specversion: Literal["1.0"]
    id: Identifier
    source: str = Field(min_length=1, max_length=1000)
    type: str = Field(min_length=1, max_length=200)
    time: Timestamp
    subject: str | None = Field(default=None, max_length=200)
    datacontenttype: str | None = Field(default=None, max_length=200)
    dataschema: str | None = Field(default=None, max_length=1000)
    sequence: Sequence | None = None
    data: dict[str, Any]

    @field_validator("datacontenttype")
    @classmethod
    def _json_data(cls, value: str | None) -> str | None:
        # Only JSON data is part of the contract; anything else could not be
        # validated against the data schemas.
        if value is None:
            return value
        media_type = value.split(";", 1)[0].strip().lower()
        if media_type != "application/json" and not media_type.endswith("+json"):
            raise ValueError("data must be JSON (datacontenttype application/json)")
        return value
