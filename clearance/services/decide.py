"""Decide: evaluate the locked students' live applications, hold what the gate holds, act.

A decision reads the student's state under the student's lock, so it sees
every fact committed before it (G1, G3). A certificate, and an application's
first decision, wait for current sources (the freshness gate); the sweeper
(:func:`decide_pending`) takes them up again.
"""

from __future__ import annotations

import functools
import json
from collections import defaultdict
from collections.abc import Callable, Collection
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import structlog

from clearance.domain.decision import Outcome, evaluate
from clearance.domain.freshness import SourceOffsets, source_streams, sources_behind
from clearance.domain.numbering import format_number, number_scope
from clearance.domain.policy import Policy, Rules
from clearance.domain.states import IssuedCertificate, TrackedApplication
from clearance.services import effects
from clearance.services.messages import Message, cloud_event, data_of, reasons_json
from clearance.services.results import BatchResult, Context, Triggers
from clearance.services.unit_of_work import UnitOfWork
from schemas.outbound import Reason, ReasonCode, Status, StatusChanged

log = structlog.get_logger("clearance.decisions")


class Gate:
    """The freshness gate of one batch: which sources are behind, asked at most once per snapshot.

    ``sources`` were read after the batch's records were fetched, so they cover what was
    published before each of them: they vouch for the applications in ``arrived`` (an
    event of theirs is in the batch). An application stored by another transaction may
    have been committed after ``sources`` were read, and a loan published just before it
    would be missing from them: for those the gate reads ``fresh`` ends, once, after the
    applications were read. Without ``fresh``, ``sources`` vouch for every application:
    the caller must have read them after the applications it decides were stored.
    """

    def __init__(
        self,
        uow: UnitOfWork,
        sources: SourceOffsets | None,
        fresh: Callable[[], SourceOffsets] | None = None,
        arrived: Collection[str] = (),
    ) -> None:
        self.uow = uow
        self.sources = sources
        self.fresh = fresh
        self.arrived = arrived
        self._behind: dict[bool, tuple[str, ...]] = {}

    def behind(self, application_id: str | None = None) -> tuple[str, ...]:
        """The source topics with records not yet applied, as far as ``application_id`` needs; none when off."""
        if self.sources is None:
            return ()
        fresh = self.fresh is not None and application_id is not None and application_id not in self.arrived
        if fresh not in self._behind:
            snapshot = self.fresh() if fresh and self.fresh is not None else self.sources
            applied = self.uow.positions.applied(source_streams(snapshot), snapshot.topic_ids)
            self._behind[fresh] = sources_behind(snapshot, applied)
        return self._behind[fresh]


@dataclass(slots=True)
class _Plan:
    """The decision about one application, before its effects are written."""

    tracked: TrackedApplication
    triggers: Triggers
    rules: Rules
    outcome: Outcome
    active: IssuedCertificate | None
    number: str | None = None


def decide(
    uow: UnitOfWork, touched: dict[str, Triggers], ctx: Context, now: datetime, result: BatchResult, gate: Gate
) -> None:
    """Evaluate the touched students' live applications and write the effects in order.

    The caller holds the students' locks (:meth:`~clearance.services.unit_of_work.Decisions.lock_students`):
    taken before the batch wrote anything, and only once.
    """
    students = sorted(touched)
    applications = uow.decisions.live_applications(students)
    if not applications:
        return
    policy = ctx.policy()
    # One signing key for the batch's certificates, as one policy: the key directory is read once
    # (it was 8% of the service's time at saturation, read for every certificate).
    ctx = replace(ctx, signing_key=functools.cache(ctx.signing_key))
    states = uow.states.student_states(list(applications))
    cleared = [t.application.application_id for apps in applications.values() for t in apps
               if t.status is Status.CLEARED]  # fmt: skip
    certificates = uow.decisions.certificates_for(cleared)
    plans: list[_Plan] = []
    for student_id in students:
        for tracked in applications.get(student_id, ()):
            application = tracked.application
            rules = policy.rules_for(application.faculty, application.program)
            certificate = certificates.get(application.application_id)
            active = certificate if certificate is not None and certificate.revoked_at is None else None
            outcome = evaluate(
                status=tracked.status,
                submitted=application.submitted,
                withdrawn=application.withdrawn,
                degree_level=application.degree_level,
                issued_at=active.issued_at if active else None,
                state=states[student_id],
                rules=rules,
            )
            # A certificate, and an application's first decision, wait for current sources:
            # the registrar should not see "blocked" for a deposit the desk accepted moments ago.
            if outcome.issue is not None or (tracked.status is Status.PENDING and outcome.status is Status.BLOCKED):
                outcome = _through_gate(uow, tracked, outcome, gate.behind(application.application_id), ctx, now)
            plans.append(_Plan(tracked, touched[student_id], rules, outcome, active))
    _number(uow, [p for p in plans if p.outcome.issue is not None], now)
    for plan in plans:
        _carry_out(uow, plan, policy, ctx, now, result)


def decide_pending(
    uow: UnitOfWork,
    ctx: Context,
    sources: SourceOffsets | None,
    limit: int = 500,
    fresh: Callable[[], SourceOffsets] | None = None,
) -> BatchResult:
    """Re-evaluate applications held by the freshness gate (inside ``uow``, not committed).

    Nothing is locked while ``sources`` are still behind and no held
    application has reached the bound; students another instance is deciding
    about right now are left to it. ``fresh`` reads the ends again for the
    decisions, after the applications were read (an application held after
    ``sources`` were read is not vouched for by them); without it, ``sources``
    must have been read after every application decided here was stored.
    """
    result = BatchResult()
    students = uow.decisions.pending_students(limit)
    if not students:
        return result
    now = ctx.clock()
    if Gate(uow, sources).behind():
        oldest = uow.decisions.pending_since()
        if oldest is None or now - oldest < ctx.freshness_max_wait:
            return result
    touched: dict[str, Triggers] = {}
    for student_id in uow.decisions.lock_students(students, skip_locked=True):
        touched[student_id] = Triggers()
        touched[student_id].add("freshness-sweep", now)
    if touched:
        decide(uow, touched, ctx, now, result, Gate(uow, sources, fresh))
    return result


def _number_fields(tracked: TrackedApplication, now: datetime) -> dict[str, Any]:
    application = tracked.application
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
        by_scope[number_scope(plan.rules, **_number_fields(plan.tracked, now))].append(plan)
    for scope in sorted(by_scope):
        group = by_scope[scope]
        first = uow.decisions.take_values(scope, len(group))
        for offset, plan in enumerate(group):
            plan.number = format_number(plan.rules, first + offset, **_number_fields(plan.tracked, now))


def _through_gate(
    uow: UnitOfWork, tracked: TrackedApplication, outcome: Outcome, behind: tuple[str, ...], ctx: Context, now: datetime
) -> Outcome:
    """Hold a decision while a source is ``behind``, up to the configured bound."""
    if not behind:
        return outcome
    received = tracked.received_at or now
    if now - received < ctx.freshness_max_wait:
        reason = Reason(code=ReasonCode.SOURCE_NOT_CURRENT, detail=", ".join(behind))
        return Outcome(status=Status.PENDING, reasons=(reason,))
    application = tracked.application
    uow.decisions.record_stale_sources(application.application_id, behind)
    log.warning(
        "decided_with_stale_sources",
        student_id=application.student_id,
        application_id=application.application_id,
        sources=list(behind),
        waited_seconds=round((now - received).total_seconds(), 1),
    )
    return outcome


def _carry_out(uow: UnitOfWork, plan: _Plan, policy: Policy, ctx: Context, now: datetime, result: BatchResult) -> None:
    tracked, outcome, active, triggers = plan.tracked, plan.outcome, plan.active, plan.triggers
    application = tracked.application
    student_id, application_id = application.student_id, application.application_id
    result.decisions += 1
    result.outcomes[outcome.status.value] += 1
    bound = log.bind(
        event_id=triggers.ids[-1], event_ids=triggers.ids[:20], student_id=student_id, application_id=application_id
    )
    follow_up: Message | None = None
    if outcome.issue is not None:
        assert plan.number is not None
        follow_up = effects.issue(uow, tracked, outcome, plan.number, ctx, now)
        result.issued.append(plan.number)
        bound = bound.bind(certificate_number=plan.number)
    if outcome.revoke is not None and active is not None:
        follow_up = effects.revoke(uow, tracked, active, outcome, now)
        result.revoked.append(active.number)
    reasons = json.dumps(reasons_json(outcome.reasons), sort_keys=True)
    changed = outcome.status is not tracked.status or reasons != tracked.reasons
    bound.info(
        "decision",
        status=outcome.status.value,
        previous_status=tracked.status.value,
        changed=changed,
        reasons=[r.code.value for r in outcome.reasons],
        policy=policy.digest,
    )
    if changed:
        uow.decisions.record_decision(application_id, outcome.status, reasons, policy.digest, now)
        tracked.status, tracked.reasons = outcome.status, reasons
        status = StatusChanged(
            application_id=application_id,
            student_id=student_id,
            status=outcome.status,
            reasons=list(outcome.reasons),
            evaluated_at=now,
        )
        message = cloud_event("clearance.status.changed", ctx.issuer, student_id, now, data_of(status))
        effects.enqueue(uow, message, student_id, application_id, now, triggers.latest)
        result.messages += 1
    if follow_up is not None:
        # The certificate (or its revocation) follows the status that announces it.
        effects.enqueue(uow, follow_up, student_id, application_id, now, triggers.latest)
        result.messages += 1
