"""The freshness gate over a real store: no certificate from a stale view (issue 4, G1)."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta

from sqlalchemy import select
from timeline import T0, as_event

from clearance.domain.freshness import SourceOffsets, sources_behind
from clearance.services.batch import handle_batch
from clearance.services.decide import decide_pending
from clearance.store.tables import ApplicationRow, CertificateRow
from clearance.store.unit_of_work import SqlUnitOfWork
from schemas.outbound import Status

CIRC, DEPO = "library.circulation", "thesis.deposits"


def test_a_source_is_behind_while_any_partition_is_applied_below_its_end() -> None:
    snapshot = SourceOffsets({(CIRC, 0): 5, (CIRC, 1): 0, (DEPO, 0): 2})
    assert sources_behind(snapshot, {(CIRC, 0): 5, (DEPO, 0): 1}) == (DEPO,)
    assert sources_behind(snapshot, {(CIRC, 0): 4, (DEPO, 0): 2}) == (CIRC,)
    assert sources_behind(snapshot, {(CIRC, 0): 5, (DEPO, 0): 2}) == ()


def test_unknown_end_offsets_count_every_source_as_behind() -> None:
    assert sources_behind(SourceOffsets(None), {}) == (CIRC, DEPO)


def _clear_student(library, desk, registrar) -> list:
    return [
        as_event(library.patron_linked("central", "P1", "S1")),
        as_event(desk.deposit_submitted("D1", "S1", "Skripsi")),
        as_event(desk.deposit_accepted("D1", "S1", time=T0 + timedelta(hours=1))),
        as_event(registrar.application_submitted("APP-1", "S1", full_name="Siti", faculty="Teknik", program="Sipil")),
    ]


def _application(session_factory) -> ApplicationRow:
    with SqlUnitOfWork(session_factory) as uow:
        row = uow.session.get(ApplicationRow, "APP-1")
        uow.session.expunge_all()
        return row


def test_an_application_waits_while_circulation_is_behind_and_clears_when_it_catches_up(
    session_factory,
    context,
    library,
    desk,
    registrar,
) -> None:
    behind = SourceOffsets({(CIRC, 0): 10, (DEPO, 0): 0})
    with SqlUnitOfWork(session_factory) as uow:
        result = handle_batch(uow, _clear_student(library, desk, registrar), [], context, sources=behind)
        uow.commit()
    assert result.issued == []
    application = _application(session_factory)
    assert application.status is Status.PENDING
    assert json.loads(application.reasons) == [{"code": "SOURCE_NOT_CURRENT", "detail": CIRC}]

    with SqlUnitOfWork(session_factory) as uow:
        uow.positions.save({(CIRC, 0): 10}, T0)
        result = decide_pending(uow, context, behind)
        uow.commit()
    assert len(result.issued) == 1
    assert _application(session_factory).status is Status.CLEARED


def test_a_late_loan_in_the_lagging_stream_blocks_instead_of_a_certificate(
    session_factory,
    context,
    library,
    desk,
    registrar,
) -> None:
    behind = SourceOffsets({(CIRC, 0): 1, (DEPO, 0): 0})
    with SqlUnitOfWork(session_factory) as uow:
        handle_batch(uow, _clear_student(library, desk, registrar), [], context, sources=behind)
        uow.commit()
    loan = library.loan_opened(
        "central", "L1", "P1", item_id="B1", title="Kalkulus", borrowed_at=T0 - timedelta(days=9),
        due_at=T0 - timedelta(days=2), time=T0 - timedelta(days=9),
    )  # fmt: skip
    with SqlUnitOfWork(session_factory) as uow:  # the circulation consumer catches up: its batch holds the loan
        handle_batch(uow, [as_event(loan)], [], context, positions={(CIRC, 0): 1}, sources=behind)
        uow.commit()
    assert _application(session_factory).status is Status.BLOCKED
    with SqlUnitOfWork(session_factory) as uow:
        assert uow.session.scalars(select(CertificateRow)).all() == []


def test_after_the_bound_the_decision_is_made_and_the_stale_sources_recorded(
    session_factory,
    context,
    library,
    desk,
    registrar,
) -> None:
    behind = SourceOffsets({(CIRC, 0): 10, (DEPO, 0): 3})
    with SqlUnitOfWork(session_factory) as uow:
        handle_batch(uow, _clear_student(library, desk, registrar), [], context, sources=behind)
        uow.commit()
    later = replace(context, clock=lambda: context.clock() + timedelta(seconds=61))
    with SqlUnitOfWork(session_factory) as uow:
        result = decide_pending(uow, later, behind)
        uow.commit()
    assert len(result.issued) == 1
    application = _application(session_factory)
    assert application.status is Status.CLEARED
    assert json.loads(application.stale_sources) == [CIRC, DEPO]


def test_positions_never_move_backwards_within_one_topic(session_factory) -> None:
    with SqlUnitOfWork(session_factory) as uow:
        uow.positions.save({(CIRC, 0): 7}, T0)
        uow.positions.save({(CIRC, 0): 3, (CIRC, 1): 2}, T0)
        uow.commit()
    with SqlUnitOfWork(session_factory) as uow:
        assert uow.positions.applied([CIRC]) == {(CIRC, 0): 7, (CIRC, 1): 2}


def test_a_topic_made_anew_under_its_name_starts_its_positions_again(session_factory) -> None:
    with SqlUnitOfWork(session_factory) as uow:
        uow.positions.save({(CIRC, 0): 228, (CIRC, 1): 40}, T0, {CIRC: "old-id"})
        uow.positions.save({(CIRC, 0): 12}, T0, {CIRC: "new-id"})
        uow.positions.save({(CIRC, 0): 9}, T0, {CIRC: "new-id"})
        uow.commit()
    with SqlUnitOfWork(session_factory) as uow:
        assert uow.positions.applied([CIRC], {CIRC: "new-id"}) == {(CIRC, 0): 12}
        # Partition 1 of the old log says nothing about the new one: the gate sees it unapplied.
        snapshot = SourceOffsets({(CIRC, 0): 12, (CIRC, 1): 30, (DEPO, 0): 0}, topic_ids={CIRC: "new-id"})
        assert sources_behind(snapshot, uow.positions.applied([CIRC, DEPO], snapshot.topic_ids)) == (CIRC,)


def test_positions_without_a_topic_id_keep_counting(session_factory) -> None:
    """Brokers before Kafka 2.8 give no topic ids; positions then count as offsets alone."""
    with SqlUnitOfWork(session_factory) as uow:
        uow.positions.save({(CIRC, 0): 5}, T0)
        uow.positions.save({(CIRC, 0): 3}, T0, {CIRC: None})
        uow.commit()
    with SqlUnitOfWork(session_factory) as uow:
        assert uow.positions.applied([CIRC], {CIRC: "some-id"}) == {(CIRC, 0): 5}
        assert uow.positions.applied([CIRC]) == {(CIRC, 0): 5}
