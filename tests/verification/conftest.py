"""Fixtures for certificate verification: certificates issued by the real handler, and settings to serve them."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from timeline import T0, as_event

from clearance.config.policy_file import load_policy
from clearance.demo.eventfactory import EventFactory
from clearance.services.batch import handle_batch
from clearance.services.results import Context
from clearance.settings import Settings
from clearance.signing.keys import KeyRing
from clearance.store.engine import make_engine, make_session_factory
from clearance.store.unit_of_work import SqlUnitOfWork
from clearance.verification import register

BASE_URL = "http://verify.test"


class Issuer:
    """Drives the real handler to clear (and withdraw) students, so certificates are what the pipeline issues."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.engine = make_engine(settings.database_url)
        self.sessions = make_session_factory(self.engine)
        self.ring = KeyRing(settings.key_dir)
        self.ring.signing_key(create=True)
        policy = load_policy(None)
        self.clock = T0 + timedelta(days=4)
        self.context = Context(
            policy=lambda: policy,
            signing_key=lambda: self.ring.signing_key(create=False),  # follows rotation, as the service does
            clock=lambda: self.clock,
            issuer=settings.issuer,
        )
        self.registrar = EventFactory("urn:registrar:ft", lambda: T0)
        self.library = EventFactory("urn:library:central", lambda: T0)
        self.desk = EventFactory("urn:repository:deposit-desk", lambda: T0)

    def _apply(self, *envelopes: dict) -> list[str]:
        with SqlUnitOfWork(self.sessions) as uow:
            result = handle_batch(uow, [as_event(e) for e in envelopes], [], self.context)
            uow.commit()
        return result.issued

    def clear(self, student: str = "2019100123", full_name: str = "Siti Rahmawati", application: str = "") -> str:
        """A student with nothing outstanding applies; the number of the certificate issued."""
        application = application or f"APP-{student}"
        issued = self._apply(
            self.library.patron_linked("central", f"P-{student}", student),
            self.desk.deposit_submitted(f"DEP-{student}", student, "Analisis Debit Sungai"),
            self.desk.deposit_accepted(f"DEP-{student}", student, time=T0 + timedelta(hours=1)),
            self.registrar.application_submitted(
                application, student, full_name=full_name, faculty="Teknik", program="Teknik Sipil"
            ),
        )
        assert len(issued) == 1, issued
        return issued[0]

    def withdraw(self, student: str = "2019100123", application: str = "") -> None:
        """The registrar withdraws the application: its certificate is revoked (G9)."""
        application = application or f"APP-{student}"
        self.clock += timedelta(hours=2)
        self._apply(
            self.registrar.application_withdrawn(application, student, "student postponed graduation",
                                                 time=T0 + timedelta(days=5))
        )  # fmt: skip

    def record(self, number: str) -> register.Record:
        with self.sessions() as session:
            record = register.find(session, number)
        assert record is not None
        return record

    def close(self) -> None:
        self.engine.dispose()


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    """Settings of a service over a migrated database (SQLite and PostgreSQL) and its own key directory."""
    return Settings(
        database_url=database_url,
        key_dir=tmp_path / "keys",
        verify_base_url=BASE_URL,
        university_name="Universitas Gadjah Contoh",
        library_name="Perpustakaan Pusat",
        log_format="console",
        log_level="warning",
        _env_file=None,  # type: ignore[call-arg]
    )


@pytest.fixture
def issuer(settings: Settings) -> Iterator[Issuer]:
    issuer = Issuer(settings)
    yield issuer
    issuer.close()


@pytest.fixture
def cli_env(settings: Settings) -> dict[str, str]:
    """The environment a ``clearance`` command needs to see the same database, keys and letterhead."""
    return {
        "CLEARANCE_DATABASE_URL": settings.database_url,
        "CLEARANCE_KEY_DIR": str(settings.key_dir),
        "CLEARANCE_VERIFY_BASE_URL": settings.verify_base_url,
        "CLEARANCE_UNIVERSITY_NAME": settings.university_name,
        "CLEARANCE_LIBRARY_NAME": settings.library_name,
        "CLEARANCE_LOG_FORMAT": "console",
        "CLEARANCE_LOG_LEVEL": "warning",
    }
