"""Reading rows by composite key: exact on both databases, and by index on SQLite."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select, text

from clearance.domain.states import Loan
from clearance.store.dialect import Dialect
from clearance.store.engine import make_engine, make_session_factory
from clearance.store.migrate import upgrade
from clearance.store.tables import LoanRow
from clearance.store.unit_of_work import SqlUnitOfWork


def test_a_composite_key_lookup_returns_only_the_keys_asked_for(session_factory) -> None:
    stored = [Loan("A", "L1"), Loan("A", "L2"), Loan("B", "L1"), Loan("B", "L2")]
    with SqlUnitOfWork(session_factory) as uow:
        uow.states.upsert(Loan, stored)
        uow.commit()
    with SqlUnitOfWork(session_factory) as uow:
        # Every library and every loan id asked for also occurs in a pair not asked for.
        assert set(uow.states.load(Loan, [("A", "L1"), ("B", "L2")])) == {("A", "L1"), ("B", "L2")}


def test_sqlite_searches_the_primary_key_for_a_composite_key_lookup(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'plan.db'}"
    upgrade(url)
    engine = make_engine(url)
    try:
        with make_session_factory(engine)() as session:
            table = LoanRow.__table__
            keys = [("A", f"L{i}") for i in range(50)]
            (stmt,) = Dialect(session).keyed(select(table.c.loan_id), list(table.primary_key.columns), keys)
            compiled = stmt.compile(engine, compile_kwargs={"literal_binds": True})
            plan = session.execute(text(f"EXPLAIN QUERY PLAN {compiled}")).all()
    finally:
        engine.dispose()
    steps = " | ".join(str(row[-1]) for row in plan)
    assert steps.startswith("SEARCH loans USING") and "SCAN loans" not in steps, steps
