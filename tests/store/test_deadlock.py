"""Two loops deciding about one student at once never deadlock (G10), on PostgreSQL where rows lock."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta

import pytest
from services import fresh_postgres_database
from timeline import T0, as_event

from clearance.demo.eventfactory import EventFactory
from clearance.services.batch import handle_batch
from clearance.services.results import Context
from clearance.store.engine import make_engine, make_session_factory
from clearance.store.migrate import upgrade
from clearance.store.unit_of_work import SqlUnitOfWork

ROUNDS = 200
library = EventFactory("urn:library:central", lambda: T0)
registrar = EventFactory("urn:registrar:ft", lambda: T0)


@pytest.mark.postgres
def test_a_withdrawal_racing_a_return_for_one_student_never_deadlocks(context: Context) -> None:
    with fresh_postgres_database() as url:
        upgrade(url)
        engine = make_engine(url, pool_size=4)
        sessions = make_session_factory(engine)
        failures: list[BaseException] = []

        def apply(envelopes: list[dict]) -> Callable[[], None]:
            def run() -> None:
                try:
                    with SqlUnitOfWork(sessions) as uow:
                        handle_batch(uow, [as_event(e) for e in envelopes], [], context)
                        uow.commit()
                except BaseException as exc:  # the test reports every failure, deadlocks first
                    failures.append(exc)

            return run

        try:
            for i in range(ROUNDS):
                student, patron, application = f"S{i}", f"P{i}", f"APP-{i}"
                apply([
                    library.patron_linked("central", patron, student),
                    library.loan_opened("central", f"L{i}", patron, item_id="B1", title="Mekanika Fluida",
                                        borrowed_at=T0, due_at=T0 + timedelta(days=7)),
                    registrar.application_submitted(application, student, full_name="Siti", faculty="Teknik",
                                                    program="Sipil"),
                ])()  # fmt: skip
                withdrawn = registrar.application_withdrawn(application, student, time=T0 + timedelta(hours=2))
                withdrawal = apply([withdrawn])
                ret = apply([library.loan_returned("central", f"L{i}", patron, T0 + timedelta(hours=1),
                                                   time=T0 + timedelta(hours=1))])  # fmt: skip
                threads = [threading.Thread(target=withdrawal), threading.Thread(target=ret)]
                for thread in threads:
                    thread.start()
                for thread in threads:
                    thread.join()
            assert failures == []
            with SqlUnitOfWork(sessions) as uow:
                outcomes = uow.decisions.live_applications([f"S{i}" for i in range(ROUNDS)])
            assert outcomes == {}  # every application withdrawn, none left to decide
        finally:
            engine.dispose()
