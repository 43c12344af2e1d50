"""The SLiMS rows the connector reads, as plain values (read by ``source``, mapped by ``mapping``).

Column meanings follow SLiMS 9 "Bulian" (install/senayan.sql): an open loan is
``is_lent=1 AND is_return=0``; a member owes ``sum(debet - credit)`` over their
``fines`` rows, in whole units of the library's currency.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime


@dataclass(frozen=True, slots=True)
class OpenLoan:
    """A ``loan`` row that is out (``is_lent=1 AND is_return=0``), with its title through ``item``/``biblio``."""

    loan_id: int
    member_id: str
    item_code: str | None
    loan_date: date | None
    due_date: date | None
    renewed: int
    input_date: datetime | None
    title: str | None


@dataclass(frozen=True, slots=True)
class LoanNow:
    """What the ``loan`` row of a loan the connector last saw open looks like now."""

    loan_id: int
    member_id: str | None
    is_lent: int
    is_return: int
    loan_date: date | None
    return_date: date | None
    input_date: datetime | None
    last_update: datetime | None


@dataclass(frozen=True, slots=True)
class FineRow:
    """A ``fines`` row."""

    fines_id: int
    member_id: str
    fines_date: date | None
    debet: int
    credit: int
    description: str | None


@dataclass(slots=True)
class MemberView:
    """Everything of one member the connector compares with what it last published.

    ``known``: the member has a ``member`` row. ``student_id``: whom the patron record
    belongs to (None: no link can be made). ``left``: the loans last seen open that
    are no longer, by id, with their row now (None when the row is gone).
    """

    member_id: str
    known: bool = False
    student_id: str | None = None
    registered: date | None = None
    open_loans: list[OpenLoan] = field(default_factory=list)
    fines: list[FineRow] = field(default_factory=list)
    left: dict[int, LoanNow | None] = field(default_factory=dict)
