"""The message handler: one batch of inbound events, one transaction.

For a batch it (1) drops events whose (source, id) was applied before,
(2) folds the rest into the projections, (3) locks every student the batch
touched, in a fixed order, and re-evaluates each of their applications once,
(4) writes certificates, status changes and dead letters to the outbox.
The caller commits, then commits the Kafka offsets (G1, G10).
"""

from __future__ import annotations

import json
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import structlog

from clearance import certificates
from clearance.engine import Outcome, evaluate
from clearance.freshness import SOURCES, SourceOffsets, sources_behind
from clearance.messages import Message, cloud_event, data_of, reasons_json
from clearance.policy import Policy, Rules
from clearance.projections import (
    Application,
    Deposit,
    Fine,
    Loan,
    PatronLink,
    PatronSnapshot,
    Payment,
    Training,
    apply_application,
    apply_deposit,
    apply_fine,
    apply_link,
    apply_loan,
    apply_patron_snapshot,
    event_stamp,
    reconcile_loan,
)
from clearance.signing import SigningKey
from clearance.store.tables import (
    ApplicationRow,
    CertificateRow,
    DeadLetterRow,
    DepositRow,
    FineRow,
    LoanRow,
    PatronLinkRow,
    PatronSnapshotRow,
)
from clearance.store.unit_of_work import UnitOfWork
from clearance.verification.token import new_verification_token
from schemas import inbound
from schemas.outbound import CertificateRevoked, Reason, ReasonCode, Status, StatusChanged
from schemas.registry import InboundEvent, Topic

log = structlog.get_logger("clearance.decisions")

_LOAN_EVENTS = (inbound.LoanOpened, inbound.LoanRenewed, inbound.LoanReturned, inbound.LoanLost)
_FINE_EVENTS = (inbound.FineAssessed, inbound.FinePaid, inbound.FineWaived)
_DEPOSIT_EVENTS = (inbound.DepositSubmitted, inbound.DepositAccepted, inbound.DepositRejected)
_APPLICATION_EVENTS = (inbound.ApplicationSubmitted, inbound.ApplicationWithdrawn)


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A record that could not be applied, and where it came from."""

    origin_topic: str
    origin_partition: int
    origin_offset: int
    key: bytes | None
    value: bytes | None
    kind: str
    message: str


@dataclass(slots=True)
class Context:
    """What a handler needs besides the store: policy, key, clock, identity."""

    policy: Callable[[], Policy]
    signing_key: Callable[[], SigningKey]
    clock: Callable[[], datetime]
    issuer: str
    # How long a clearance may wait for lagging sources before it is decided anyway.
    freshness_max_wait: timedelta = timedelta(seconds=60)


@dataclass(slots=True)
class BatchResult:
    """What one batch did, for logs, metrics and tests."""

    applied: int = 0
    duplicates: int = 0
    dead_lettered: int = 0
    decisions: int = 0
    issued: list[str] = field(default_factory=list)
    revoked: list[str] = field(default_factory=list)
    messages: int = 0
    consumed: Counter[str] = field(default_factory=Counter)
    dead_letter_kinds: Counter[str] = field(default_factory=Counter)
    outcomes: Counter[str] = field(default_factory=Counter)

    def merge(self, other: BatchResult) -> None:
        """Add another result's counts to this one."""
        self.applied += other.applied
        self.duplicates += other.duplicates
        self.dead_lettered += other.dead_lettered
        self.decisions += other.decisions
        self.issued.extend(other.issued)
        self.revoked.extend(other.revoked)
        self.messages += other.messages
        self.consumed.update(other.consumed)
        self.dead_letter_kinds.update(other.dead_letter_kinds)
        self.outcomes.update(other.outcomes)


@dataclass(slots=True)
class _Triggers:
    """The events that touched one student in a batch."""

    ids: list[str] = field(default_factory=list)
    latest: datetime | None = None

    def add(self, event_id: str, time: datetime) -> None:
        self.ids.append(event_id)
        if self.latest is None or time > self.latest:
            self.latest = time

    def extend(self, other: _Triggers) -> None:
        self.ids.extend(other.ids)
        if other.latest is not None and (self.latest is None or other.latest > self.latest):
            self.latest = other.latest


class _Batch:
    """The working set of one batch: the projection states it reads and changes, and whom they concern.

    States are read with one query per table, folded in memory, and written
    back with one upsert per table (:meth:`write`).
    """

    def __init__(self, uow: UnitOfWork, events: Sequence[InboundEvent], now: datetime) -> None:
        self.uow = uow
        self.now = now
        repo = uow.repo

        def keys(kinds: Any, *names: str) -> list[tuple[str, ...]]:
            return [tuple(getattr(e.data, n) for n in names) for e in events if isinstance(e.data, kinds)]

        self.loans: dict[tuple, Loan] = repo.load_states(LoanRow, Loan, keys(_LOAN_EVENTS, "library_id", "loan_id"))
        self.fines: dict[tuple, Fine] = repo.load_states(FineRow, Fine, keys(_FINE_EVENTS, "library_id", "fine_id"))
        self.deposits: dict[tuple, Deposit] = repo.load_states(DepositRow, Deposit, keys(_DEPOSIT_EVENTS, "deposit_id"))
        self.links: dict[tuple, PatronLink] = repo.load_states(
            PatronLinkRow, PatronLink, keys(inbound.PatronLinked, "library_id", "patron_id")
        )
        self.snapshots: dict[tuple, PatronSnapshot] = repo.load_states(
            PatronSnapshotRow, PatronSnapshot, keys(inbound.PatronSnapshot, "library_id", "patron_id")
        )
        self.applications: dict[tuple, Application] = repo.load_states(
            ApplicationRow, Application, keys(_APPLICATION_EVENTS, "application_id")
        )
        self.dirty: dict[str, set[tuple]] = defaultdict(set)
        # Payments are kept by their own key: one that was counted before (its inbox id may have
        # been pruned since) is not counted again.
        payments = [
            Payment(e.data.library_id, e.data.fine_id, event_stamp(e.envelope), Decimal(e.data.amount))
            for e in events
            if isinstance(e.data, inbound.FinePaid)
        ]
        self.new_payments = repo.add_payments(payments)
        self.students: dict[str, _Triggers] = defaultdict(_Triggers)
        self.patrons: dict[tuple[str, str], _Triggers] = defaultdict(_Triggers)
        self.trainings: list[Training] = []

    def _put(self, table: str, store: dict[tuple, Any], key: tuple, state: Any) -> None:
        if store.get(key) != state:
            store[key] = state
            self.dirty[table].add(key)

    def apply(self, event: InboundEvent) -> None:
        data, envelope = event.data, event.envelope
        if isinstance(data, _LOAN_EVENTS):
            key = (data.library_id, data.loan_id)
            loan = apply_loan(self.loans.get(key) or Loan(*key), envelope, data)
            self._put("loans", self.loans, key, loan)
            if loan.patron_id is not None:
                self.patrons[(loan.library_id, loan.patron_id)].add(envelope.id, envelope.time)
        elif isinstance(data, _FINE_EVENTS):
            key = (data.library_id, data.fine_id)
            if isinstance(data, inbound.FinePaid) and (*key, event_stamp(envelope)) not in self.new_payments:
                return
            fine = apply_fine(self.fines.get(key) or Fine(*key), envelope, data)
            self._put("fines", self.fines, key, fine)
            if fine.patron_id is not None:
                self.patrons[(fine.library_id, fine.patron_id)].add(envelope.id, envelope.time)
        elif isinstance(data, inbound.PatronLinked):
            key = (data.library_id, data.patron_id)
            before = self.links.get(key) or PatronLink(*key)
            after = apply_link(before, envelope, data)
            self._put("links", self.links, key, after)
            for student in {before.student_id, after.student_id} - {None}:
                self.students[student].add(envelope.id, envelope.time)  # type: ignore[index]
        elif isinstance(data, inbound.PatronSnapshot):
            self._apply_snapshot(event, data)
        elif isinstance(data, inbound.TrainingCompleted):
            self.trainings.append(Training(data.library_id, data.patron_id, data.course, data.completed_at))
            self.patrons[(data.library_id, data.patron_id)].add(envelope.id, envelope.time)
        elif isinstance(data, _DEPOSIT_EVENTS):
            key = (data.deposit_id,)
            current = self.deposits.get(key) or Deposit(data.deposit_id, data.student_id)
            deposit = apply_deposit(current, envelope, data)
            self._put("deposits", self.deposits, key, deposit)
            self.students[deposit.student_id].add(envelope.id, envelope.time)
        elif isinstance(data, _APPLICATION_EVENTS):
            key = (data.application_id,)
            current = self.applications.get(key) or Application(data.application_id, data.student_id)
            application = apply_application(current, envelope, data)
            self._put("applications", self.applications, key, application)
            self.students[application.student_id].add(envelope.id, envelope.time)
        else:  # pragma: no cover - the registry admits no other type
            raise TypeError(f"no handler for {event.type}")

    def _apply_snapshot(self, event: InboundEvent, data: inbound.PatronSnapshot) -> None:
        key = (data.library_id, data.patron_id)
        before = self.snapshots.get(key) or PatronSnapshot(*key)
        snapshot = apply_patron_snapshot(before, event.envelope, data)
        self.patrons[key].add(event.envelope.id, event.envelope.time)
        if snapshot == before:
            return  # an older statement than the one already applied
        self._put("snapshots", self.snapshots, key, snapshot)
        # The patron's loans: those stored, those this batch changed, and those the snapshot lists.
        for loan_key, loan in self.uow.repo.loans_of_patron(*key).items():
            self.loans.setdefault(loan_key, loan)
        listed = {loan.loan_id: loan for loan in data.open_loans}
        listed_keys = [(data.library_id, loan_id) for loan_id in listed]
        for loan_key, loan in self.uow.repo.load_states(LoanRow, Loan, listed_keys).items():
            self.loans.setdefault(loan_key, loan)
        mine = {k for k, loan in self.loans.items() if k[0] == data.library_id and loan.patron_id == data.patron_id}
        for loan_key in sorted(mine | set(listed_keys)):
            loan = self.loans.get(loan_key) or Loan(*loan_key)
            self._put("loans", self.loans, loan_key, reconcile_loan(loan, snapshot, listed.get(loan_key[1])))

    def reconcile_touched_loans(self) -> None:
        """Re-apply patron snapshots to loans this batch changed, so a late, older event cannot undo them."""
        touched = [k for k in self.dirty["loans"] if self.loans[k].patron_id is not None]
        patrons = {(k[0], self.loans[k].patron_id) for k in touched}
        missing = [p for p in patrons if p not in self.snapshots]
        self.snapshots.update(self.uow.repo.load_states(PatronSnapshotRow, PatronSnapshot, missing))
        for key in touched:
            loan = self.loans[key]
            snapshot = self.snapshots.get((loan.library_id, loan.patron_id))  # type: ignore[arg-type]
            if snapshot is not None:
                self._put("loans", self.loans, key, reconcile_loan(loan, snapshot, snapshot.entry(loan.loan_id)))

    def write(self) -> None:
        """Write every changed state back: one upsert per table."""
        repo = self.uow.repo
        tables: list[tuple[str, type, dict[tuple, Any]]] = [
            ("loans", LoanRow, self.loans),
            ("fines", FineRow, self.fines),
            ("deposits", DepositRow, self.deposits),
            ("links", PatronLinkRow, self.links),
            ("snapshots", PatronSnapshotRow, self.snapshots),
        ]
        for name, model, store in tables:
            repo.upsert_states(model, [store[k] for k in sorted(self.dirty[name])])
        applications = [self.applications[k] for k in sorted(self.dirty["applications"])]
        repo.upsert_states(ApplicationRow, applications, on_insert={"received_at": self.now})
        repo.add_trainings(self.trainings)

    def touched_students(self) -> dict[str, _Triggers]:
        """Every student whose state the batch changed, with the events that did."""
        linked = self.uow.repo.students_of_patrons(self.patrons)
        for patron, student in linked.items():
            self.students[student].extend(self.patrons[patron])
        return self.students


class _Gate:
    """The freshness gate of one batch: which sources are behind, asked at most once."""

    def __init__(self, uow: UnitOfWork, sources: SourceOffsets | None) -> None:
        self.uow = uow
        self.sources = sources
        self._behind: tuple[str, ...] | None = None

    def behind(self) -> tuple[str, ...]:
        if self.sources is None:
            return ()
        if self._behind is None:
            applied = self.uow.repo.applied_positions((s.value for s in SOURCES), self.sources.topic_ids)
            self._behind = sources_behind(self.sources, applied)
        return self._behind


def handle_batch(
    uow: UnitOfWork,
    events: Sequence[InboundEvent],
    dead_letters: Sequence[DeadLetter],
    ctx: Context,
    *,
    positions: dict[tuple[str, int], int] | None = None,
    sources: SourceOffsets | None = None,
) -> BatchResult:
    """Apply a batch of validated events and dead letters inside ``uow`` (not committed).

    ``positions`` are the next offsets of the batch's partitions (logical
    topic names), stored with the data so the freshness gate knows what is
    applied. ``sources`` are the end offsets of the source topics read after
    the batch arrived; None turns the gate off (tools and tests of the
    decision alone).
    """
    result = BatchResult()
    now = ctx.clock()
    repo = uow.repo

    seen = repo.seen([e.key for e in events])
    fresh: list[InboundEvent] = []
    for event in events:
        if event.key in seen:
            result.duplicates += 1
            log.info("duplicate_ignored", event_id=event.envelope.id, source=event.envelope.source, type=event.type)
            continue
        seen.add(event.key)
        fresh.append(event)
    repo.remember([(e.envelope.source, e.envelope.id, e.type) for e in fresh], now)

    batch = _Batch(uow, fresh, now)
    for event in fresh:
        batch.apply(event)
    batch.reconcile_touched_loans()
    batch.write()
    result.applied = len(fresh)
    result.consumed.update(e.type for e in fresh)
    if positions:
        repo.save_positions(positions, now, sources.topic_ids if sources is not None else None)

    touched = batch.touched_students()
    if touched:
        policy = ctx.policy()
        _decide(uow, touched, policy, ctx, now, result, _Gate(uow, sources))

    for letter in dead_letters:
        _dead_letter(uow, letter, now, result)
    return result


@dataclass(slots=True)
class _Plan:
    """The decision about one application, before its effects are written."""

    student_id: str
    application: ApplicationRow
    triggers: _Triggers
    rules: Rules
    outcome: Outcome
    active: CertificateRow | None
    number: str | None = None


def _decide(
    uow: UnitOfWork,
    touched: dict[str, _Triggers],
    policy: Policy,
    ctx: Context,
    now: datetime,
    result: BatchResult,
    gate: _Gate,
) -> None:
    """Lock the touched students, evaluate their live applications, and write the effects in order."""
    repo = uow.repo
    students = repo.lock_students(touched)
    applications = repo.live_applications(students)
    if not applications:
        return
    states = repo.student_states(list(applications))
    certificates = repo.certificates_for(
        [a.application_id for apps in applications.values() for a in apps if a.status is Status.CLEARED]
    )
    plans: list[_Plan] = []
    for student_id in students:
        for application in applications.get(student_id, ()):
            rules = policy.rules_for(application.faculty, application.program)
            certificate = certificates.get(application.application_id)
            active = certificate if certificate is not None and certificate.revoked_at is None else None
            outcome = evaluate(
                status=application.status,
                submitted=application.submitted_stamp is not None,
                withdrawn=application.withdrawn,
                degree_level=application.degree_level,
                issued_at=active.issued_at if active else None,
                state=states[student_id],
                rules=rules,
            )
            # A certificate, and an application's first decision, wait for current sources:
            # the registrar should not see "blocked" for a deposit the desk accepted moments ago.
            if outcome.issue is not None or (application.status is Status.PENDING and outcome.status is Status.BLOCKED):
                outcome = _through_gate(application, outcome, gate, ctx, now)
            plans.append(_Plan(student_id, application, touched[student_id], rules, outcome, active))
    _number(uow, [p for p in plans if p.outcome.issue is not None], now)
    for plan in plans:
        _carry_out(uow, plan, policy, ctx, now, result)


def _number_fields(application: ApplicationRow, now: datetime) -> dict[str, Any]:
    return {
        "period": application.graduation_period or "",
        "year": now.year,
        "faculty": application.faculty or "",
        "program": application.program or "",
        "degree": application.degree_level or "",
    }


def _number(uow: UnitOfWork, plans: list[_Plan], now: datetime) -> None:
    """Give each certificate to issue its number: one counter update per number scope, not per certificate."""
    by_scope: dict[str, list[_Plan]] = defaultdict(list)
    for plan in plans:
        by_scope[certificates.number_scope(plan.rules, **_number_fields(plan.application, now))].append(plan)
    for scope in sorted(by_scope):
        group = by_scope[scope]
        first = uow.repo.take_values(scope, len(group))
        for offset, plan in enumerate(group):
            fields = _number_fields(plan.application, now)
            plan.number = certificates.format_number(plan.rules, first + offset, **fields)


def _carry_out(uow: UnitOfWork, plan: _Plan, policy: Policy, ctx: Context, now: datetime, result: BatchResult) -> None:
    application, outcome, active, triggers = plan.application, plan.outcome, plan.active, plan.triggers
    student_id = plan.student_id
    result.decisions += 1
    result.outcomes[outcome.status.value] += 1
    bound = log.bind(
        event_id=triggers.ids[-1],
        event_ids=triggers.ids[:20],
        student_id=student_id,
        application_id=application.application_id,
    )
    follow_up: Message | None = None
    if outcome.issue is not None:
        assert plan.number is not None
        follow_up = _issue(uow, application, outcome, plan.number, ctx, now)
        result.issued.append(plan.number)
        bound = bound.bind(certificate_number=plan.number)
    if outcome.revoke is not None and active is not None:
        follow_up = _revoke(application, active, outcome, now)
        result.revoked.append(active.number)
    reasons = json.dumps(reasons_json(outcome.reasons), sort_keys=True)
    changed = outcome.status is not application.status or reasons != application.reasons
    bound.info(
        "decision",
        status=outcome.status.value,
        previous_status=application.status.value,
        changed=changed,
        reasons=[r.code.value for r in outcome.reasons],
        policy=policy.digest,
    )
    if changed:
        application.status = outcome.status
        application.reasons = reasons
        application.policy_digest = policy.digest
        application.evaluated_at = now
        status = StatusChanged(
            application_id=application.application_id,
            student_id=student_id,
            status=outcome.status,
            reasons=list(outcome.reasons),
            evaluated_at=now,
        )
        message = cloud_event("clearance.status.changed", ctx.issuer, student_id, now, data_of(status))
        _enqueue(uow, message, application, now, triggers.latest)
        result.messages += 1
    if follow_up is not None:
        # The certificate (or its revocation) follows the status that announces it.
        _enqueue(uow, follow_up, application, now, triggers.latest)
        result.messages += 1


def _through_gate(application: ApplicationRow, outcome: Outcome, gate: _Gate, ctx: Context, now: datetime) -> Outcome:
    """Hold a decision while a source is behind, up to the configured bound."""
    behind = gate.behind()
    if not behind:
        return outcome
    received = application.received_at or now
    if now - received < ctx.freshness_max_wait:
        reason = Reason(code=ReasonCode.SOURCE_NOT_CURRENT, detail=", ".join(behind))
        return Outcome(status=Status.PENDING, reasons=(reason,))
    application.stale_sources = json.dumps(list(behind))
    log.warning(
        "decided_with_stale_sources",
        student_id=application.student_id,
        application_id=application.application_id,
        sources=list(behind),
        waited_seconds=round((now - received).total_seconds(), 1),
    )
    return outcome


def handle_pending(uow: UnitOfWork, ctx: Context, sources: SourceOffsets | None, limit: int = 500) -> BatchResult:
    """Re-evaluate applications held by the freshness gate (inside ``uow``, not committed).

    Nothing is locked while the sources are still behind and no held
    application has reached the bound; students another instance is deciding
    about right now are left to it.
    """
    result = BatchResult()
    repo = uow.repo
    students = repo.pending_students(limit)
    if not students:
        return result
    now = ctx.clock()
    gate = _Gate(uow, sources)
    if gate.behind():
        oldest = repo.pending_since()
        if oldest is None or now - oldest < ctx.freshness_max_wait:
            return result
    locked = repo.lock_students(students, skip_locked=True)
    touched: dict[str, _Triggers] = {}
    for student_id in locked:
        touched[student_id] = _Triggers()
        touched[student_id].add("freshness-sweep", now)
    if touched:
        _decide(uow, touched, ctx.policy(), ctx, now, result, gate)
    return result


def _issue(
    uow: UnitOfWork,
    application: ApplicationRow,
    outcome: Outcome,
    number: str,
    ctx: Context,
    now: datetime,
) -> Message:
    assert outcome.issue is not None
    document = certificates.certificate_document(
        number=number,
        application_id=application.application_id,
        student_id=application.student_id,
        full_name=application.full_name or "",
        faculty=application.faculty or "",
        program=application.program or "",
        degree_level=application.degree_level or "",
        graduation_period=application.graduation_period or "",
        issued_at=now,
        issuer=ctx.issuer,
        basis=outcome.issue,
    )
    key = ctx.signing_key()
    issued = certificates.sign_certificate(document, key)
    # The unique constraint on application_id holds at commit even with several instances (G1);
    # a conflict fails the batch's transaction, and its retry finds the certificate issued.
    uow.repo.add_certificate(
        dict(
            number=number,
            application_id=application.application_id,
            student_id=application.student_id,
            key_id=key.key_id,
            issued_at=datetime.fromisoformat(document["issued_at"]),
            document=json.dumps(issued, ensure_ascii=False, sort_keys=True),
            verification_token=new_verification_token(),
        )
    )
    return cloud_event("clearance.certificate.issued", ctx.issuer, application.student_id, now, issued)


def _revoke(application: ApplicationRow, certificate: CertificateRow, outcome: Outcome, now: datetime) -> Message:
    reason = outcome.revoke or "revoked"
    if outcome.status is Status.WITHDRAWN and application.withdrawn_reason:
        reason = f"{reason}: {application.withdrawn_reason}"
    certificate.revoked_at = now
    certificate.revocation_reason = reason
    revoked = CertificateRevoked(
        number=certificate.number,
        application_id=application.application_id,
        student_id=application.student_id,
        reason=reason,
        revoked_at=now,
    )
    issuer = json.loads(certificate.document)["certificate"]["issuer"]
    return cloud_event("clearance.certificate.revoked", issuer, application.student_id, now, data_of(revoked))


def _enqueue(
    uow: UnitOfWork, message: Message, application: ApplicationRow, now: datetime, trigger_time: datetime | None
) -> None:
    uow.repo.add_outbox(
        dict(
            event_id=message.event_id,
            topic=message.topic.value,
            key=message.key,
            value=message.value,
            headers=json.dumps([[k, v.decode("latin-1")] for k, v in message.headers]),
            type=message.type,
            student_id=application.student_id,
            application_id=application.application_id,
            created_at=now,
            trigger_time=trigger_time,
        )
    )


def _dead_letter(uow: UnitOfWork, letter: DeadLetter, now: datetime, result: BatchResult) -> None:
    row = DeadLetterRow(
        origin_topic=letter.origin_topic,
        origin_partition=letter.origin_partition,
        origin_offset=letter.origin_offset,
        key=letter.key,
        value=letter.value,
        error_kind=letter.kind,
        error_message=letter.message[:4000],
        created_at=now,
    )
    if not uow.repo.add_dead_letter(row):
        return
    headers = (
        ("error-kind", letter.kind.encode()),
        ("error-message", letter.message[:1000].encode("utf-8", "replace")),
        ("origin-topic", letter.origin_topic.encode()),
        ("origin-partition", str(letter.origin_partition).encode()),
        ("origin-offset", str(letter.origin_offset).encode()),
    )
    uow.repo.add_outbox(
        dict(
            event_id=str(uuid.uuid4()),
            topic=Topic.DEAD_LETTER.value,
            key=letter.key,
            value=letter.value,
            headers=json.dumps([[k, v.decode("utf-8", "replace")] for k, v in headers]),
            type="dead-letter",
            created_at=now,
        )
    )
    result.dead_lettered += 1
    result.dead_letter_kinds[letter.kind] += 1
    log.warning(
        "dead_lettered",
        error_kind=letter.kind,
        error_message=letter.message[:500],
        origin_topic=letter.origin_topic,
        origin_partition=letter.origin_partition,
        origin_offset=letter.origin_offset,
    )
