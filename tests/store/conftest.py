"""Fixtures for tests of the store and the handler over a real database."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from timeline import T0, as_event

from clearance.config.policy_file import load_policy
from clearance.demo.eventfactory import EventFactory
from clearance.domain.policy import Policy
from clearance.services.batch import handle_batch
from clearance.services.results import BatchResult, Context
from clearance.signing.keys import KeyRing
from clearance.store.unit_of_work import SqlUnitOfWork


@pytest.fixture
def context(tmp_path: Path) -> Context:
    policy: Policy = load_policy(None)
    ring = KeyRing(tmp_path / "keys")
    key = ring.signing_key()
    return Context(
        policy=lambda: policy,
        signing_key=lambda: key,
        clock=lambda: T0 + timedelta(days=4),
        issuer="urn:library:central",
    )


@pytest.fixture
def apply(session_factory, context: Context) -> Callable[..., BatchResult]:
    """Apply envelopes as one batch in one committed transaction."""

    def _apply(*envelopes: dict[str, Any]) -> BatchResult:
        with SqlUnitOfWork(session_factory) as uow:
            result = handle_batch(uow, [as_event(e) for e in envelopes], [], context)
            uow.commit()
        return result

    return _apply


@pytest.fixture
def registrar() -> EventFactory:
    return EventFactory("urn:registrar:ft", lambda: T0)


@pytest.fixture
def library() -> EventFactory:
    return EventFactory("urn:library:central", lambda: T0)


@pytest.fixture
def desk() -> EventFactory:
    return EventFactory("urn:repository:deposit-desk", lambda: T0)
