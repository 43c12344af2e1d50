"""The services over an in-memory unit of work: what a batch decides and publishes, in milliseconds."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from timeline import T0, as_event
from unit.fakes import FakeUnitOfWork, Store

from clearance.config.policy_file import load_policy
from clearance.demo.eventfactory import EventFactory
from clearance.domain.freshness import SourceOffsets
from clearance.services.batch import handle_batch
from clearance.services.decide import decide_pending
from clearance.services.ingest import FOLDS
from clearance.services.results import BatchResult, Context, DeadLetter
from clearance.signing.keys import SigningKey
from schemas.outbound import Status
from schemas.registry import INBOUND_TYPES, Topic

NOW = T0 + timedelta(days=4)
registrar = EventFactory("urn:registrar:ft", lambda: T0)
library = EventFactory("urn:library:central", lambda: T0)
desk = EventFactory("urn:repository:deposit-desk", lambda: T0)


@pytest.fixture
def store() -> Store:
    return Store()


@pytest.fixture
def context() -> Context:
    policy = load_policy(None)
    key = SigningKey("test-1", Ed25519PrivateKey.generate())
    return Context(policy=lambda: policy, signing_key=lambda: key, clock=lambda: NOW, issuer="urn:library:central")


@pytest.fixture
def apply(store: Store, context: Context) -> Callable[..., BatchResult]:
    def _apply(*envelopes: dict[str, Any], letters: tuple[DeadLetter, ...] = (), **kw: Any) -> BatchResult:
        with FakeUnitOfWork(store) as uow:
            result = handle_batch(uow, [as_event(e) for e in envelopes], letters, context, **kw)
            uow.commit()
        return result

    return _apply


def _ready(student: str = "S1") -> list[dict]:
    return [
        library.patron_linked("central", f"P-{student}", student),
        desk.deposit_submitted(f"DEP-{student}", student, "Analisis Debit Sungai"),
        desk.deposit_accepted(f"DEP-{student}", student, time=T0 + timedelta(hours=1)),
    ]


def _submit(student: str = "S1", application: str = "APP-1") -> dict:
    return registrar.application_submitted(application, student, full_name="Siti", faculty="Teknik", program="Sipil")


def _loan() -> dict:
    return library.loan_opened(
        "central", "L1", "P-S1", item_id="B1", title="Mekanika Fluida", borrowed_at=T0, due_at=T0 + timedelta(days=7)
    )


def _types(store: Store) -> list[str]:
    return [row["type"] for row in store.outbox]


def test_every_inbound_event_type_has_a_fold() -> None:
    models = {model for _topic, model in INBOUND_TYPES.values()}
    assert models == set(FOLDS)


def test_a_student_with_nothing_outstanding_gets_one_certificate(apply, store: Store) -> None:
    result = apply(*_ready(), _submit())
    assert result.issued == ["BP/2026-2/0000001"]
    assert _types(store) == ["clearance.status.changed", "clearance.certificate.issued"]
    assert store.tracked["APP-1"][0] is Status.CLEARED


def test_a_repeated_event_is_dropped_by_the_inbox(apply, store: Store) -> None:
    events = [*_ready(), _submit()]
    apply(*events)
    result = apply(*events)
    assert result.duplicates == len(events) and result.applied == 0
    assert len(store.certificates) == 1


def test_an_open_loan_blocks_and_its_return_clears(apply, store: Store) -> None:
    loan = _loan()
    apply(*_ready(), loan, _submit())
    assert store.tracked["APP-1"][0] is Status.BLOCKED
    assert json.loads(store.tracked["APP-1"][1])[0]["code"] == "OUTSTANDING_LOAN"
    result = apply(library.loan_returned("central", "L1", "P-S1", T0 + timedelta(days=2), time=T0 + timedelta(days=2)))
    assert result.issued == ["BP/2026-2/0000001"]


def test_a_return_before_its_loan_still_clears(apply, store: Store) -> None:
    returned = library.loan_returned("central", "L1", "P-S1", T0 + timedelta(days=2), time=T0 + timedelta(days=2))
    opened = _loan()
    apply(*_ready(), returned, opened, _submit())
    assert store.tracked["APP-1"][0] is Status.CLEARED


def test_a_status_is_published_only_when_status_or_reasons_change(apply, store: Store) -> None:
    loan = _loan()
    apply(*_ready(), loan, _submit())
    before = len(store.outbox)
    apply(library.training_completed("central", "P-S1", T0 + timedelta(hours=3)))
    assert len(store.outbox) == before


def test_a_withdrawal_after_issuance_revokes_the_certificate(apply, store: Store) -> None:
    apply(*_ready(), _submit())
    result = apply(registrar.application_withdrawn("APP-1", "S1", reason="moved", time=T0 + timedelta(days=1)))
    assert result.revoked == ["BP/2026-2/0000001"]
    assert _types(store)[-1] == "clearance.certificate.revoked"
    assert store.certificates["BP/2026-2/0000001"]["revocation_reason"].endswith("moved")


def test_the_gate_holds_a_clearance_while_a_source_is_behind(apply, store: Store, context: Context) -> None:
    behind = SourceOffsets(end_offsets={(Topic.CIRCULATION.value, 0): 5})
    result = apply(*_ready(), _submit(), sources=behind)
    assert result.issued == [] and store.tracked["APP-1"][0] is Status.PENDING
    store.positions[(Topic.CIRCULATION.value, 0)] = 5
    with FakeUnitOfWork(store) as uow:
        swept = decide_pending(uow, context, behind)
        uow.commit()
    assert swept.issued == ["BP/2026-2/0000001"]


CIRC, DEPO = (Topic.CIRCULATION.value, 0), (Topic.DEPOSITS.value, 0)


def _never() -> SourceOffsets:
    raise AssertionError("the ends were read again")


def _held_for_the_deposit(apply) -> dict:
    """S1 applied while the deposit desk was behind: held (pending); returns the acceptance still to come."""
    link, submitted, accepted = _ready()
    apply(link, submitted, _submit(), sources=SourceOffsets(end_offsets={CIRC: 0, DEPO: 2}), positions={CIRC: 0})
    return accepted


def test_an_application_stored_after_the_batchs_ends_were_read_is_decided_on_ends_read_again(
    apply, store: Store
) -> None:
    accepted = _held_for_the_deposit(apply)
    # The deposit batch's ends were read before a loan was published; the application was stored meanwhile.
    before_the_loan = SourceOffsets(end_offsets={CIRC: 0, DEPO: 2})
    reads: list[str] = []

    def after_the_loan() -> SourceOffsets:
        reads.append("fresh")
        return SourceOffsets(end_offsets={CIRC: 1, DEPO: 2})

    result = apply(accepted, positions={DEPO: 2}, sources=before_the_loan, fresh_sources=after_the_loan)
    assert result.issued == [] and store.tracked["APP-1"][0] is Status.PENDING
    assert reads == ["fresh"]


def test_an_application_in_the_batch_is_vouched_for_by_the_ends_read_after_it_arrived(apply) -> None:
    current = SourceOffsets(end_offsets={CIRC: 0, DEPO: 0})
    result = apply(*_ready(), _submit(), sources=current, fresh_sources=_never)
    assert result.issued == ["BP/2026-2/0000001"]


def test_the_sweeper_decides_on_ends_read_after_the_held_applications(apply, store: Store, context: Context) -> None:
    accepted = _held_for_the_deposit(apply)
    apply(accepted, positions={DEPO: 2}, sources=SourceOffsets(end_offsets={CIRC: 1, DEPO: 2}))
    assert store.tracked["APP-1"][0] is Status.PENDING  # a loan is unread
    read_first = SourceOffsets(end_offsets={CIRC: 0, DEPO: 2})
    with FakeUnitOfWork(store) as uow:
        swept = decide_pending(uow, context, read_first, fresh=lambda: SourceOffsets(end_offsets={CIRC: 1, DEPO: 2}))
        uow.commit()
    assert swept.issued == [] and store.tracked["APP-1"][0] is Status.PENDING


def test_a_dead_letter_is_queued_once_per_origin(apply, store: Store) -> None:
    letter = DeadLetter("library.circulation", 0, 7, b"P1", b"{", "invalid-json", "not JSON")
    apply(letters=(letter,))
    apply(letters=(letter,))
    assert _types(store) == ["dead-letter"]
    assert dict(json.loads(store.outbox[0]["headers"]))["error-kind"] == "invalid-json"


def test_students_are_locked_before_the_batch_writes_their_applications(apply, store: Store) -> None:
    apply(*_ready(), _submit())
    assert store.journal.index(("lock", ["S1"])) < store.journal.index(("write", "Application"))


def test_students_are_locked_once_per_batch(apply, store: Store) -> None:
    apply(*_ready(), _submit())
    assert [entry for entry in store.journal if entry[0] == "lock"] == [("lock", ["S1"])]


def test_a_batch_reads_the_signing_key_once_however_many_certificates_it_issues(store: Store) -> None:
    policy, key, reads = load_policy(None), SigningKey("test-1", Ed25519PrivateKey.generate()), []

    def signing_key() -> SigningKey:
        reads.append(key.key_id)
        return key

    counting = Context(policy=lambda: policy, signing_key=signing_key, clock=lambda: NOW, issuer="urn:library:central")
    students = [f"S{i}" for i in range(5)]
    events = [e for s in students for e in _ready(s)] + [_submit(s, f"APP-{s}") for s in students]
    with FakeUnitOfWork(store) as uow:
        result = handle_batch(uow, [as_event(e) for e in events], [], counting)
        uow.commit()
    assert len(result.issued) == 5 and reads == ["test-1"]
