"""Reconciliation with library.patron.snapshot over a real store (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
from datetime import timedelta

from timeline import T0

from clearance.store.tables import ApplicationRow
from clearance.store.unit_of_work import SqlUnitOfWork

AS_OF = T0 + timedelta(days=1)


def _snapshot(library, open_loans=(), balance: str = "0", as_of=AS_OF, **kw) -> dict:
    return library.event(
        "library.patron.snapshot",
        "P1",
        {
            "patron_id": "P1", "library_id": "central", "as_of": as_of.isoformat(),
            "open_loans": list(open_loans), "fine_balance": balance, "currency": "IDR",
        },
        time=as_of, **kw,
    )  # fmt: skip


def _loan(library, loan_id: str, at) -> dict:
    return library.loan_opened(
        "central", loan_id, "P1", item_id=f"B-{loan_id}", title="Kalkulus", borrowed_at=at,
        due_at=at + timedelta(days=14), time=at,
    )  # fmt: skip


def _line(loan_id: str, lost: bool = False) -> dict:
    return {
        "loan_id": loan_id, "item_id": f"B-{loan_id}", "title": "Fisika Dasar",
        "borrowed_at": (T0 - timedelta(days=3)).isoformat(), "due_at": (T0 + timedelta(days=11)).isoformat(),
        "lost": lost,
    }  # fmt: skip


def _setup(apply, library, desk, registrar) -> None:
    apply(
        library.patron_linked("central", "P1", "S1"),
        desk.deposit_submitted("D1", "S1", "Skripsi"),
        desk.deposit_accepted("D1", "S1", time=T0 + timedelta(hours=1)),
    )


def _submit(apply, registrar) -> None:
    apply(registrar.application_submitted("APP-1", "S1", full_name="Siti", faculty="Teknik", program="Sipil"))


def _reasons(session_factory) -> tuple[str, list[dict]]:
    with SqlUnitOfWork(session_factory) as uow:
        row = uow.session.get(ApplicationRow, "APP-1")
        return row.status.value, json.loads(row.reasons)


def test_a_snapshot_without_a_loan_closes_a_return_the_library_never_sent(
    apply, session_factory, library, desk, registrar
):
    _setup(apply, library, desk, registrar)
    apply(_loan(library, "L1", T0 - timedelta(days=10)))
    _submit(apply, registrar)
    assert _reasons(session_factory)[0] == "blocked"
    apply(_snapshot(library))
    assert _reasons(session_factory)[0] == "cleared"


def test_a_loan_the_snapshot_lists_blocks_even_if_no_event_announced_it(
    apply, session_factory, library, desk, registrar
):
    _setup(apply, library, desk, registrar)
    apply(_snapshot(library, open_loans=[_line("L7", lost=True)]))
    _submit(apply, registrar)
    status, reasons = _reasons(session_factory)
    assert status == "blocked"
    assert [(r["code"], r["loan_id"], r["title"]) for r in reasons] == [("LOST_ITEM", "L7", "Fisika Dasar")]


def test_events_after_the_snapshot_still_apply_on_top(apply, session_factory, library, desk, registrar) -> None:
    _setup(apply, library, desk, registrar)
    apply(_snapshot(library, open_loans=[_line("L7")]))
    apply(library.loan_returned("central", "L7", "P1", AS_OF, time=AS_OF + timedelta(hours=2)))
    apply(_loan(library, "L8", AS_OF + timedelta(hours=3)))
    _submit(apply, registrar)
    _, reasons = _reasons(session_factory)
    assert [r["loan_id"] for r in reasons] == ["L8"]


def test_a_late_event_older_than_the_snapshot_cannot_undo_it(apply, session_factory, library, desk, registrar) -> None:
    _setup(apply, library, desk, registrar)
    apply(_snapshot(library))
    apply(_loan(library, "L1", T0 - timedelta(days=10)))  # arrives late; by as_of the book was back
    _submit(apply, registrar)
    assert _reasons(session_factory)[0] == "cleared"


def test_an_older_snapshot_arriving_later_is_ignored(apply, session_factory, library, desk, registrar) -> None:
    _setup(apply, library, desk, registrar)
    apply(_snapshot(library))
    apply(_snapshot(library, open_loans=[_line("L9")], as_of=T0 - timedelta(days=5)))
    _submit(apply, registrar)
    assert _reasons(session_factory)[0] == "cleared"


def test_the_snapshot_balance_replaces_earlier_fines_and_later_payments_reduce_it(
    apply, session_factory, library, desk, registrar
):
    _setup(apply, library, desk, registrar)
    apply(
        library.fine_assessed("central", "F1", "P1", "30000", time=T0 - timedelta(days=4)),
        library.fine_assessed("central", "F2", "P1", "20000", time=T0 - timedelta(days=3)),
    )
    apply(_snapshot(library, balance="10000"))
    _submit(apply, registrar)
    assert _reasons(session_factory)[1] == [
        {"code": "UNPAID_FINES", "library_id": "central", "amount": "10000", "currency": "IDR"}
    ]
    apply(library.fine_assessed("central", "F3", "P1", "5000", time=AS_OF + timedelta(hours=1)))
    assert _reasons(session_factory)[1][0]["amount"] == "15000"
    apply(library.fine_paid("central", "F1", "P1", "10000", time=AS_OF + timedelta(hours=2)))
    apply(library.fine_waived("central", "F3", "P1", time=AS_OF + timedelta(hours=3)))
    assert _reasons(session_factory)[0] == "cleared"
