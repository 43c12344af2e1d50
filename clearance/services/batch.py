"""One batch of inbound events, one transaction: the service the consumer loops call.

For a batch it (1) drops events whose (source, id) was applied before,
(2) folds the rest into the states they touch, (3) locks every student the
batch touched, in a fixed order, and re-evaluates each of their applications
once, (4) writes certificates, status changes and dead letters to the outbox.
The caller commits, then commits the Kafka offsets (G1, G10).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from clearance.domain.freshness import SourceOffsets
from clearance.services import effects
from clearance.services.decide import Gate, decide
from clearance.services.ingest import WorkingSet, drop_seen
from clearance.services.results import BatchResult, Context, DeadLetter
from clearance.services.unit_of_work import UnitOfWork
from schemas.inbound import ApplicationSubmitted, ApplicationWithdrawn
from schemas.registry import InboundEvent

# The events that carry an application: one in a batch was fetched before the batch's ends were read.
_APPLICATION_EVENTS = (ApplicationSubmitted, ApplicationWithdrawn)


def handle_batch(
    uow: UnitOfWork,
    events: Sequence[InboundEvent],
    dead_letters: Sequence[DeadLetter],
    ctx: Context,
    *,
    positions: Mapping[tuple[str, int], int] | None = None,
    sources: SourceOffsets | Callable[[], SourceOffsets] | None = None,
    fresh_sources: Callable[[], SourceOffsets] | None = None,
) -> BatchResult:
    """Apply a batch of validated events and dead letters inside ``uow`` (not committed).

    ``positions`` are the next offsets of the batch's partitions (logical
    topic names), stored with the data so the freshness gate knows what is
    applied. ``sources`` are the end offsets of the source topics read after
    the batch arrived, or a function that returns them, called once the
    events are folded, so that the broker's answer may come meanwhile; None
    turns the gate off (tools and tests of the decision alone).
    ``fresh_sources`` reads the ends again, for an application this batch
    holds no event of: it may have been stored after ``sources`` were read
    (see :class:`~clearance.services.decide.Gate`).
    """
    result = BatchResult()
    now = ctx.clock()
    fresh, result.duplicates = drop_seen(uow, events, now)

    working = WorkingSet(uow, fresh)
    for event in fresh:
        working.apply(event)
    working.reconcile_touched_loans()
    touched = working.touched_students()
    # The students' locks come before the batch writes a row that another lock holder's decision
    # updates (an application), so two transactions never wait on each other (G10).
    uow.decisions.lock_students(touched)
    working.write(now)
    result.applied = len(fresh)
    result.consumed.update(e.type for e in fresh)
    current = sources() if callable(sources) else sources
    if positions:
        uow.positions.save(positions, now, current.topic_ids if current is not None else None)
    if touched:
        arrived = {e.data.application_id for e in fresh if isinstance(e.data, _APPLICATION_EVENTS)}
        decide(uow, touched, ctx, now, result, Gate(uow, current, fresh_sources, arrived))

    for letter in dead_letters:
        effects.dead_letter(uow, letter, now, result, ctx.max_message_bytes)
    return result
