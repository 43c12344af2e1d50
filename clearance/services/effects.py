"""The effects of a decision: a certificate issued or revoked, messages enqueued, dead letters kept.

Everything here writes through the unit of work; the relay publishes the
outbox after the transaction commits.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime

import structlog

from clearance.domain.certificate import certificate_document, sign_certificate
from clearance.domain.decision import Outcome
from clearance.domain.page_token import new_verification_token, token_sha256
from clearance.domain.states import IssuedCertificate, TrackedApplication
from clearance.services.dead_letters import publishable
from clearance.services.messages import Message, cloud_event, data_of
from clearance.services.results import BatchResult, Context, DeadLetter
from clearance.services.unit_of_work import UnitOfWork
from schemas.outbound import CertificateRevoked, Status
from schemas.registry import Topic

log = structlog.get_logger("clearance.decisions")


def issue(
    uow: UnitOfWork, tracked: TrackedApplication, outcome: Outcome, number: str, ctx: Context, now: datetime
) -> Message:
    """Sign and record the certificate of a cleared application; return its message."""
    assert outcome.issue is not None
    application = tracked.application
    document = certificate_document(
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
    issued = sign_certificate(document, key)
    token = new_verification_token()
    # The unique constraint on application_id holds at commit even with several instances (G1);
    # a conflict fails the batch's transaction, and its retry finds the certificate issued.
    uow.decisions.add_certificate(
        {
            "number": number,
            "application_id": application.application_id,
            "student_id": application.student_id,
            "key_id": key.key_id,
            "issued_at": datetime.fromisoformat(document["issued_at"]),
            "document": json.dumps(issued, ensure_ascii=False, sort_keys=True),
            "verification_token": token,
            "verification_token_sha256": token_sha256(token),
        }
    )
    return cloud_event("clearance.certificate.issued", ctx.issuer, application.student_id, now, issued)


def revoke(
    uow: UnitOfWork, tracked: TrackedApplication, certificate: IssuedCertificate, outcome: Outcome, now: datetime
) -> Message:
    """Record the revocation of an issued certificate; return its message."""
    application = tracked.application
    reason = outcome.revoke or "revoked"
    if outcome.status is Status.WITHDRAWN and application.withdrawn_reason:
        reason = f"{reason}: {application.withdrawn_reason}"
    uow.decisions.revoke_certificate(certificate.number, now, reason)
    revoked = CertificateRevoked(
        number=certificate.number,
        application_id=application.application_id,
        student_id=application.student_id,
        reason=reason,
        revoked_at=now,
    )
    return cloud_event(
        "clearance.certificate.revoked", certificate.issuer, application.student_id, now, data_of(revoked)
    )


def enqueue(uow: UnitOfWork, message: Message, student_id: str, application_id: str, now: datetime,
            trigger_time: datetime | None) -> None:  # fmt: skip
    """Queue a message about an application for the relay."""
    uow.outbox.add(
        {
            "event_id": message.event_id,
            "topic": message.topic.value,
            "key": message.key,
            "value": message.value,
            "headers": json.dumps([[k, v.decode("latin-1")] for k, v in message.headers]),
            "type": message.type,
            "student_id": student_id,
            "application_id": application_id,
            "created_at": now,
            "trigger_time": trigger_time,
        }
    )


def dead_letter(
    uow: UnitOfWork, letter: DeadLetter, now: datetime, result: BatchResult, max_message_bytes: int
) -> None:
    """Keep a record that could not be applied and queue it for the dead-letter topic (G7), once per origin."""
    row_id = uow.outbox.add_dead_letter(
        {
            "origin_topic": letter.origin_topic,
            "origin_partition": letter.origin_partition,
            "origin_offset": letter.origin_offset,
            "key": letter.key,
            "value": letter.value,
            "error_kind": letter.kind,
            "error_message": letter.message[:4000],
            "created_at": now,
        }
    )
    if row_id is None:
        return
    record = publishable(letter, row_id, max_message_bytes)
    uow.outbox.add(
        {
            "event_id": str(uuid.uuid4()),
            "topic": Topic.DEAD_LETTER.value,
            "key": record.key,
            "value": record.value,
            "headers": json.dumps([[k, v.encode("utf-8", "replace").decode("utf-8")] for k, v in record.headers]),
            "type": "dead-letter",
            "created_at": now,
        }
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
