"""Harvested OAI-PMH records in, ``thesis.deposits`` events out (SPEC §4.3). Pure: no I/O.

A record the repository archives is a thesis the library accepted: it becomes
``thesis.deposit.submitted`` and ``thesis.deposit.accepted``, both at the
record's datestamp, the acceptance with the later ``sequence`` so that the
service orders it after the submission (G5). A record the repository reports
as deleted becomes ``thesis.deposit.rejected``; a deleted record carries no
metadata, so its student comes from what an earlier harvest of it recorded.

Ids are derived from (identifier, datestamp, what): harvesting the same
version of a record again gives the same ids, which the service's inbox drops.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from connectors.oaipmh.degrees import degree_level
from connectors.runtime import Outgoing, event_id
from schemas.types import DegreeLevel

WITHDRAWN_REASON = "withdrawn from the repository"
SUBMITTED, ACCEPTED, REJECTED = "thesis.deposit.submitted", "thesis.deposit.accepted", "thesis.deposit.rejected"
# The contract orders events of one deposit that share a time by sequence: the acceptance follows the
# submission it accepts; a withdrawal has a datestamp of its own, later than both.
_SEQUENCE = {SUBMITTED: "1", ACCEPTED: "2", REJECTED: "3"}
_MAX_ID = 200  # schemas.types.Identifier
_MAX_TEXT = 2000  # schemas.types.Text
DEFAULT_STUDENT_ID_PATTERN = r"^\s*(\S+)\s*$"


@dataclass(frozen=True, slots=True)
class HarvestedRecord:
    """One record of a ListRecords response: its header, and its metadata as element name -> texts.

    ``metadata`` is keyed by the local name of every element under the record's
    metadata (``title``, ``description``; ETD-MS ``degree/level`` is ``level``),
    values in document order, empty ones left out. A deleted record has none.
    """

    identifier: str
    datestamp: str
    deleted: bool = False
    metadata: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class MappingRules:
    """How a repository's records say what the contract needs."""

    source: str
    student_id_field: str
    student_id_pattern: re.Pattern[str] = re.compile(DEFAULT_STUDENT_ID_PATTERN)
    default_degree_level: DegreeLevel = DegreeLevel.S1


@dataclass(frozen=True, slots=True)
class Mapped:
    """The events of one record, and the student the record belongs to (kept to reject it once deleted)."""

    identifier: str
    datestamp: str
    student_id: str
    deleted: bool
    outgoing: tuple[Outgoing, ...]


@dataclass(frozen=True, slots=True)
class Unmappable:
    """A record that cannot become an event, and why (counted and logged by identifier)."""

    identifier: str
    reason: str


@dataclass(frozen=True, slots=True)
class Ignored:
    """A record with nothing to say: deleted before this connector ever published it."""

    identifier: str
    reason: str


def datestamp_time(datestamp: str, now: datetime) -> datetime:
    """The instant of an OAI-PMH datestamp (``YYYY-MM-DD`` or ``YYYY-MM-DDThh:mm:ssZ``), never later than ``now``.

    A repository's clock ahead of ours must not make the service refuse the
    event as ``time-in-future`` (G12).
    """
    text = datestamp.strip()
    if "T" not in text:
        moment = datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=UTC)
    else:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
    return min(moment.astimezone(UTC), now.astimezone(UTC))


def _rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def find_student_id(values: tuple[str, ...], pattern: re.Pattern[str]) -> str | None:
    """The pattern's first group (its whole match if it has none) in the first value that matches."""
    for value in values:
        found = pattern.search(value)
        if found is None:
            continue
        student_id = (found.group(1) if pattern.groups else found.group(0)).strip()
        if student_id:
            return student_id
    return None


def _event(rules: MappingRules, kind: str, record: HarvestedRecord, student_id: str, time: str,
           data: dict[str, Any]) -> Outgoing:  # fmt: skip
    what = kind.rsplit(".", 1)[1]
    return Outgoing(
        key=student_id,
        event={
            "specversion": "1.0",
            "id": event_id(record.identifier, record.datestamp, what),
            "source": rules.source,
            "type": kind,
            "time": time,
            "subject": student_id,
            "datacontenttype": "application/json",
            "sequence": _SEQUENCE[kind],
            "data": data,
        },
    )


def map_record(
    record: HarvestedRecord, rules: MappingRules, *, known_student: str | None, now: datetime
) -> Mapped | Unmappable | Ignored:
    """The contract events of one harvested record.

    ``known_student`` is the student an earlier harvest found for this
    identifier (None if it was never published); ``now`` caps the events' time.
    """
    identifier = record.identifier.strip()
    if not identifier:
        return Unmappable(record.identifier, "record has no identifier")
    if len(identifier) > _MAX_ID:
        return Unmappable(identifier[:_MAX_ID], f"identifier longer than {_MAX_ID} characters")
    try:
        time = _rfc3339(datestamp_time(record.datestamp, now))
    except ValueError:
        return Unmappable(identifier, f"datestamp {record.datestamp[:40]!r} is not an OAI-PMH datestamp")
    if record.deleted:
        if known_student is None:
            return Ignored(identifier, "deleted record never published")
        data = {"deposit_id": identifier, "student_id": known_student, "reason": WITHDRAWN_REASON}
        rejected = _event(rules, REJECTED, record, known_student, time, data)
        return Mapped(identifier, record.datestamp, known_student, True, (rejected,))

    values = record.metadata.get(rules.student_id_field, ())
    student_id = find_student_id(values, rules.student_id_pattern)
    if student_id is None:
        return Unmappable(identifier, f"no student id in field {rules.student_id_field!r}")
    if len(student_id) > _MAX_ID:
        return Unmappable(identifier, f"student id longer than {_MAX_ID} characters")
    title = next((t.strip() for t in record.metadata.get("title", ()) if t.strip()), None)
    if title is None:
        return Unmappable(identifier, "record has no title")
    level = degree_level(record.metadata.get("level", ()), record.metadata.get("name", ()),
                         record.metadata.get("type", ())) or rules.default_degree_level  # fmt: skip
    submitted = _event(rules, SUBMITTED, record, student_id, time, {
        "deposit_id": identifier, "student_id": student_id,
        # A title longer than the contract takes is cut rather than the thesis left uncleared.
        "title": title[:_MAX_TEXT], "degree_level": level.value,
    })  # fmt: skip
    accepted = _event(rules, ACCEPTED, record, student_id, time,
                      {"deposit_id": identifier, "student_id": student_id, "repository_id": identifier})  # fmt: skip
    return Mapped(identifier, record.datestamp, student_id, False, (submitted, accepted))
