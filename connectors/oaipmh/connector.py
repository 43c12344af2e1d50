"""One harvest pass: new record versions since the checkpoint, published, then remembered.

State kept in the connector's :class:`StateStore`:

- ``checkpoint``: ``{"from": datestamp}``, where the next harvest starts.
- ``record:<identifier>``: ``{"datestamp", "deleted", "student_id"}`` of the
  last version of each record this connector handled. It lets a deleted
  record (which carries no metadata) be rejected for the right student, and
  it lets a pass skip the versions it already published: OAI-PMH's ``from``
  is inclusive, so every pass sees again the records of the checkpoint's
  second, and an interrupted pass starts its list again.

Both are written only after the broker acknowledged the events they record,
a batch of pages at a time, so a pass killed half-way resumes without
publishing what was acknowledged before.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import structlog

from connectors.oaipmh.mapping import (
    HarvestedRecord,
    Ignored,
    Mapped,
    MappingRules,
    Unmappable,
    datestamp_time,
    map_record,
)
from connectors.oaipmh.source import OaiSource
from connectors.runtime import Outgoing, PassResult, Publisher, StateStore

log = structlog.get_logger("clearance.connectors.oaipmh")

CHECKPOINT = "checkpoint"
RECORD = "record:"
_FAR_FUTURE = datetime.max.replace(tzinfo=UTC)


def _instant(datestamp: str | None) -> datetime | None:
    if not datestamp:
        return None
    try:
        return datestamp_time(datestamp, _FAR_FUTURE)
    except ValueError:
        return None


def next_from(latest_datestamp: str, first_response_date: str | None) -> str:
    """Where the next harvest starts: the latest datestamp seen, but no later than the first response's date.

    A record changed while a long list was being served can carry a datestamp
    earlier than others on later pages; starting again from the moment the
    list was begun catches it (what it re-reads is skipped as already published).
    The result keeps the repository's granularity (a day-granular repository
    refuses a time in ``from``).
    """
    latest = _instant(latest_datestamp)
    began = _instant(first_response_date)
    if latest is None or began is None or latest <= began:
        return latest_datestamp
    if "T" not in latest_datestamp:
        return began.strftime("%Y-%m-%d")
    return began.strftime("%Y-%m-%dT%H:%M:%SZ")


def already_handled(record: HarvestedRecord, entry: dict[str, Any] | None) -> bool:
    """Whether this version of the record was handled by an earlier batch or pass."""
    return entry is not None and entry.get("datestamp") == record.datestamp and entry.get("deleted") == record.deleted


@dataclass
class _Pass:
    """What one pass has read and not yet committed, and what it knows of every record."""

    known: dict[str, dict[str, Any]]
    result: PassResult = field(default_factory=PassResult)
    outgoing: list[Outgoing] = field(default_factory=list)
    remembered: dict[str, Any] = field(default_factory=dict)
    latest: tuple[datetime, str] | None = None

    def take(self, record: HarvestedRecord, rules: MappingRules, now: datetime) -> None:
        """Map one record unless this version was handled already; hold its events and its entry."""
        instant = _instant(record.datestamp)
        if instant is not None and (self.latest is None or instant > self.latest[0]):
            self.latest = (instant, record.datestamp)
        entry = self.known.get(record.identifier)
        if already_handled(record, entry):
            return
        student = entry.get("student_id") if entry else None
        outcome = map_record(record, rules, known_student=student, now=now)
        if isinstance(outcome, Mapped):
            self.outgoing.extend(outcome.outgoing)
            student = outcome.student_id
        elif isinstance(outcome, Unmappable):
            self.result.unmappable += 1
            log.warning("oai_record_unmappable", identifier=outcome.identifier[:200], reason=outcome.reason)
        elif isinstance(outcome, Ignored):
            log.info("oai_record_ignored", identifier=outcome.identifier[:200], reason=outcome.reason)
        if not record.identifier or len(record.identifier) > 200:
            return  # nothing to remember it by
        # Remembered with the batch it belongs to, so that a version is handled (and counted) once.
        entry = {"datestamp": record.datestamp, "deleted": record.deleted, "student_id": student}
        self.known[record.identifier] = entry
        self.remembered[RECORD + record.identifier] = entry

    def commit(self, publisher: Publisher, state: StateStore) -> None:
        """Publish what is held, and only once the broker acknowledged all of it, remember it."""
        if self.outgoing:
            publisher.publish(self.outgoing)  # raises unless every event was acknowledged
            self.result.published += len(self.outgoing)
        if self.remembered:
            state.put(self.remembered)
        self.outgoing.clear()
        self.remembered.clear()


class OaiPmhConnector:
    """The OAI-PMH connector: a pass harvests from the checkpoint, publishes per batch, then checkpoints."""

    name = "oai-pmh"

    def __init__(self, source: OaiSource, rules: MappingRules, *, batch_events: int = 1000,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:  # fmt: skip
        self.source = source
        self.rules = rules
        self.batch_events = batch_events
        self.clock = clock

    def run_pass(self, publisher: Publisher, state: StateStore) -> PassResult:
        """Harvest every record version newer than the checkpoint; see the module docstring."""
        from_ = (state.get(CHECKPOINT) or {}).get("from")
        work = _Pass(known={k[len(RECORD) :]: v for k, v in state.scan(RECORD).items()})
        first_response_date: str | None = None
        pages = 0
        for page in self.source.pages(from_):
            pages += 1
            if pages == 1:
                first_response_date = page.response_date
            for record in page.records:
                work.take(record, self.rules, self.clock())
            if len(work.outgoing) >= self.batch_events:
                work.commit(publisher, state)
        work.commit(publisher, state)
        checkpoint = from_
        if work.latest is not None:
            checkpoint = next_from(work.latest[1], first_response_date)
            if checkpoint != from_:
                state.put({CHECKPOINT: {"from": checkpoint}})
        log.info("oai_harvest_done", url=self.source.url, from_=from_, pages=pages, published=work.result.published,
                 unmappable=work.result.unmappable, checkpoint=checkpoint)  # fmt: skip
        return work.result

    def close(self) -> None:
        """Close the HTTP client."""
        self.source.close()
