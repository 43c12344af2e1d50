"""One pass of the SLiMS connector: read, compare with the digests, publish, then checkpoint."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime
from zoneinfo import ZoneInfo

import structlog

from connectors.runtime import Outgoing, PassResult, Publisher, StateStore
from connectors.slims.events import Context
from connectors.slims.mapping import Digest, plan_member
from connectors.slims.rows import MemberView
from connectors.slims.source import SlimsSource

log = structlog.get_logger("clearance.connectors.slims")

PREFIX = "member:"
META = "meta"
# Events published (and acknowledged) before the digests they account for are written.
BATCH_EVENTS = 5_000


def _now(zone: ZoneInfo) -> datetime:
    now = datetime.now(zone)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


class SlimsConnector:
    """Publishes a SLiMS library's members, loans and fines; see :mod:`connectors.slims.mapping`."""

    name = "slims"

    def __init__(
        self,
        source: SlimsSource,
        *,
        library_id: str,
        currency: str = "IDR",
        zone: ZoneInfo | None = None,
        clock: Callable[[ZoneInfo], datetime] = _now,
        batch_events: int = BATCH_EVENTS,
    ) -> None:
        self.source = source
        self.library_id = library_id
        self.currency = currency
        self.zone = zone or ZoneInfo("Asia/Jakarta")
        self.clock = clock
        self.batch_events = batch_events

    def _generation(self, state: StateStore) -> str:
        meta = state.get(META)
        if meta is None:
            # Written before anything is published: a pass killed half-way and run again
            # must give its snapshots the ids of the first attempt.
            meta = {"generation": uuid.uuid4().hex, "library_id": self.library_id}
            state.put({META: meta})
            log.info("slims_state_new", library_id=self.library_id, generation=meta["generation"])
        return str(meta["generation"])

    def run_pass(self, publisher: Publisher, state: StateStore) -> PassResult:
        """Compare every member with their digest; publish in batches, each followed by its digests."""
        generation = self._generation(state)
        digests: dict[str, Digest] = {key[len(PREFIX) :]: value for key, value in state.scan(PREFIX).items()}
        last_open = [(member, int(loan)) for member, d in digests.items() for loan in d.get("loans", {})]
        reading = self.source.read(last_open)
        ctx = Context(self.library_id, self.currency, self.zone, self.clock(self.zone), generation)
        result = PassResult(unmappable=len(reading.unmappable))
        for problem in reading.unmappable:
            log.warning("slims_row_unmappable", library_id=self.library_id, row=problem)
        batch: list[Outgoing] = []
        written: dict[str, Digest | None] = {}
        for member_id in sorted(set(reading.members) | set(digests)):
            # A member known before with nothing in SLiMS now: their fines rows may have been deleted.
            view = reading.members.get(member_id) or MemberView(member_id, student_id=None)
            old = digests.get(member_id)
            plan = plan_member(view, old, ctx)
            for problem in plan.unmappable:
                log.warning("slims_row_unmappable", library_id=self.library_id, member_id=member_id, row=problem)
            result.unmappable += len(plan.unmappable)
            if plan.doubts and old is not None:
                log.info("slims_snapshot", library_id=self.library_id, member_id=member_id, why=plan.doubts[:5])
            batch.extend(plan.events)
            if plan.digest != old:
                written[PREFIX + member_id] = plan.digest
            if len(batch) >= self.batch_events:
                result.published += self._flush(publisher, state, batch, written)
                batch, written = [], {}
        result.published += self._flush(publisher, state, batch, written)
        return result

    def _flush(
        self, publisher: Publisher, state: StateStore, batch: list[Outgoing], written: dict[str, Digest | None]
    ) -> int:
        publisher.publish(batch)  # raises unless the broker acknowledged every event
        state.put(written)
        if batch:
            log.info("slims_batch_published", library_id=self.library_id, events=len(batch), members=len(written))
        return len(batch)

    def close(self) -> None:
        self.source.engine.dispose()
