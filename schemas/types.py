"""Field types shared by the event models.

Limits on lengths are deliberately generous for real data and tight enough
that a hostile message cannot bloat the store.
"""

from __future__ import annotations

import re
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

import pycountry
from pydantic import AfterValidator, AwareDatetime, BeforeValidator, Field, StringConstraints

_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})$")


def _rfc3339_string(value: Any) -> Any:
    # pydantic would also take epoch numbers or offset-less strings; the
    # contract says RFC 3339 with an offset, so anything else is refused here.
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str) or not _RFC3339.match(value):
        raise ValueError("must be an RFC 3339 timestamp with a UTC offset, e.g. 2026-11-20T09:15:00+07:00")
    return value


Timestamp = Annotated[AwareDatetime, BeforeValidator(_rfc3339_string)]
"""An RFC 3339 timestamp that carries its UTC offset."""

Identifier = Annotated[str, StringConstraints(min_length=1, max_length=200, strip_whitespace=False)]
"""An id of a student, patron, loan, fine, deposit, library or application."""

Text = Annotated[str, StringConstraints(min_length=1, max_length=2000)]
"""A human-readable string: a title, a name, a reason."""

OptionalText = Annotated[str, StringConstraints(max_length=2000)]

_AMOUNT_PATTERN = r"^(0|[1-9]\d{0,17})(\.\d{1,4})?$"

Amount = Annotated[
    str,
    StringConstraints(pattern=_AMOUNT_PATTERN),
    Field(description="Decimal string in the currency's major unit", examples=["15000", "15000.50"]),
]
"""A non-negative decimal amount, as a string, in the currency's major unit."""

_CURRENCIES = frozenset(c.alpha_3 for c in pycountry.currencies)


def _currency(value: str) -> str:
    if value not in _CURRENCIES:
        raise ValueError(f"{value!r} is not an ISO 4217 currency code")
    return value


Currency = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$"), AfterValidator(_currency), Field(examples=["IDR"])]
"""An ISO 4217 alphabetic currency code."""

Sequence = Annotated[str, StringConstraints(pattern=r"^\d{1,30}$")]
"""A non-negative decimal integer, as a string."""


class DegreeLevel(StrEnum):
    """Degree levels of Indonesian higher education."""

    D3 = "D3"
    D4 = "D4"
    S1 = "S1"
    S2 = "S2"
    S3 = "S3"
    PROFESI = "profesi"
