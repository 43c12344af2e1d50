"""The tables. Column names of the projection tables equal the field names of
the domain dataclasses in :mod:`clearance.domain.states`, so rows and states
convert field by field.

Which is the source of truth: for a projection state, the dataclass in
:mod:`clearance.domain.states` (the fold works on it); the table here mirrors
it column by column, and a migration in ``migrations/versions`` creates what
this module declares. For the service's own
rows (inbox, outbox, certificates, positions, dead letters) this module is.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import (
    BigInteger,
    Boolean,
    Enum,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from clearance.domain.page_token import new_verification_token
from clearance.domain.states import DepositState, LoanStatus
from clearance.store.types import DecimalString, IsoDateTime, UtcDateTime
from schemas.outbound import Status

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "pk": "pk_%(table_name)s",
}

ID = String(200)
SOURCE = String(1000)
STAMP = String(1300)


def _enum(cls: type) -> Enum:
    return Enum(
        cls, native_enum=False, values_callable=lambda e: [m.value for m in e], length=20, validate_strings=True
    )


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class InboxRow(Base):
    """Ids of inbound events already applied: a repeat of (source, id) changes nothing."""

    __tablename__ = "inbox"
    source: Mapped[str] = mapped_column(SOURCE, primary_key=True)
    event_id: Mapped[str] = mapped_column(ID, primary_key=True)
    type: Mapped[str] = mapped_column(String(200))
    processed_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)


class StudentRow(Base):
    """One row per student the service has heard of; its lock serialises decisions."""

    __tablename__ = "students"
    student_id: Mapped[str] = mapped_column(ID, primary_key=True)


class PatronLinkRow(Base):
    __tablename__ = "patron_links"
    library_id: Mapped[str] = mapped_column(ID, primary_key=True)
    patron_id: Mapped[str] = mapped_column(ID, primary_key=True)
    student_id: Mapped[str | None] = mapped_column(ID, index=True)
    link_stamp: Mapped[str | None] = mapped_column(STAMP)


class LoanRow(Base):
    __tablename__ = "loans"
    __table_args__ = (Index("ix_loans_patron", "patron_id", "library_id"),)
    library_id: Mapped[str] = mapped_column(ID, primary_key=True)
    loan_id: Mapped[str] = mapped_column(ID, primary_key=True)
    patron_id: Mapped[str | None] = mapped_column(ID)
    item_id: Mapped[str | None] = mapped_column(ID)
    title: Mapped[str | None] = mapped_column(Text)
    borrowed_at: Mapped[datetime | None] = mapped_column(IsoDateTime)
    interlibrary: Mapped[bool] = mapped_column(Boolean, default=False)
    opened_stamp: Mapped[str | None] = mapped_column(STAMP)
    due_at: Mapped[datetime | None] = mapped_column(IsoDateTime)
    due_stamp: Mapped[str | None] = mapped_column(STAMP)
    status: Mapped[LoanStatus | None] = mapped_column(_enum(LoanStatus))
    status_stamp: Mapped[str | None] = mapped_column(STAMP)
    returned_at: Mapped[datetime | None] = mapped_column(IsoDateTime)


class FineRow(Base):
    __tablename__ = "fines"
    __table_args__ = (Index("ix_fines_patron", "patron_id", "library_id"),)
    library_id: Mapped[str] = mapped_column(ID, primary_key=True)
    fine_id: Mapped[str] = mapped_column(ID, primary_key=True)
    patron_id: Mapped[str | None] = mapped_column(ID)
    amount: Mapped[Decimal | None] = mapped_column(DecimalString)
    currency: Mapped[str | None] = mapped_column(String(3))
    reason: Mapped[str | None] = mapped_column(Text)
    loan_id: Mapped[str | None] = mapped_column(ID)
    assessed_stamp: Mapped[str | None] = mapped_column(STAMP)
    paid: Mapped[Decimal] = mapped_column(DecimalString, default=Decimal(0))
    waived: Mapped[bool] = mapped_column(Boolean, default=False)
    waived_stamp: Mapped[str | None] = mapped_column(STAMP)


class PaymentRow(Base):
    __tablename__ = "fine_payments"
    library_id: Mapped[str] = mapped_column(ID, primary_key=True)
    fine_id: Mapped[str] = mapped_column(ID, primary_key=True)
    payment_stamp: Mapped[str] = mapped_column(STAMP, primary_key=True)
    amount: Mapped[Decimal] = mapped_column(DecimalString)


class PatronSnapshotRow(Base):
    __tablename__ = "patron_snapshots"
    library_id: Mapped[str] = mapped_column(ID, primary_key=True)
    patron_id: Mapped[str] = mapped_column(ID, primary_key=True)
    snapshot_stamp: Mapped[str | None] = mapped_column(STAMP)
    as_of: Mapped[datetime | None] = mapped_column(IsoDateTime)
    open_loans: Mapped[str] = mapped_column(Text, default="[]")
    fine_balance: Mapped[Decimal] = mapped_column(DecimalString, default=Decimal(0))
    currency: Mapped[str | None] = mapped_column(String(3))


class DepositRow(Base):
    __tablename__ = "deposits"
    deposit_id: Mapped[str] = mapped_column(ID, primary_key=True)
    student_id: Mapped[str] = mapped_column(ID, index=True)
    title: Mapped[str | None] = mapped_column(Text)
    degree_level: Mapped[str | None] = mapped_column(String(20))
    submitted_stamp: Mapped[str | None] = mapped_column(STAMP)
    state: Mapped[DepositState | None] = mapped_column(_enum(DepositState))
    state_stamp: Mapped[str | None] = mapped_column(STAMP)
    repository_id: Mapped[str | None] = mapped_column(Text)
    rejection_reason: Mapped[str | None] = mapped_column(Text)


class TrainingRow(Base):
    __tablename__ = "trainings"
    library_id: Mapped[str] = mapped_column(ID, primary_key=True)
    patron_id: Mapped[str] = mapped_column(ID, primary_key=True)
    course: Mapped[str] = mapped_column(ID, primary_key=True)
    completed_at: Mapped[datetime | None] = mapped_column(IsoDateTime)


class ApplicationRow(Base):
    __tablename__ = "applications"
    application_id: Mapped[str] = mapped_column(ID, primary_key=True)
    student_id: Mapped[str] = mapped_column(ID, index=True)
    full_name: Mapped[str | None] = mapped_column(Text)
    faculty: Mapped[str | None] = mapped_column(Text)
    program: Mapped[str | None] = mapped_column(Text)
    degree_level: Mapped[str | None] = mapped_column(String(20))
    graduation_period: Mapped[str | None] = mapped_column(ID)
    ceremony_date: Mapped[str | None] = mapped_column(String(10))
    submitted_at: Mapped[datetime | None] = mapped_column(IsoDateTime)
    submitted_stamp: Mapped[str | None] = mapped_column(STAMP)
    withdrawn: Mapped[bool] = mapped_column(Boolean, default=False)
    withdrawn_reason: Mapped[str | None] = mapped_column(Text)
    withdrawn_at: Mapped[datetime | None] = mapped_column(IsoDateTime)
    withdrawn_stamp: Mapped[str | None] = mapped_column(STAMP)
    # What the registrar was last told: compared to decide whether to publish.
    status: Mapped[Status] = mapped_column(_enum(Status), default=Status.PENDING, index=True)
    reasons: Mapped[str] = mapped_column(Text, default="[]")
    policy_digest: Mapped[str | None] = mapped_column(String(64))
    evaluated_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # When the service first stored the application: the freshness gate waits from here.
    received_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # Sources that were behind when the gate's bound ran out and the decision was made anyway.
    stale_sources: Mapped[str | None] = mapped_column(Text)


class ConsumerPositionRow(Base):
    """How far each partition of an inbound topic is applied, written with the data it covers."""

    __tablename__ = "consumer_positions"
    topic: Mapped[str] = mapped_column(String(200), primary_key=True)
    partition: Mapped[int] = mapped_column(Integer, primary_key=True)
    next_offset: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    # The broker's id of the topic the offset counts in (None where the broker gives none).
    topic_id: Mapped[str | None] = mapped_column(String(64), nullable=True)


class CertificateRow(Base):
    __tablename__ = "certificates"
    number: Mapped[str] = mapped_column(String(200), primary_key=True)
    # The database, not the code, guarantees one certificate per application (G1).
    application_id: Mapped[str] = mapped_column(ID, unique=True)
    student_id: Mapped[str] = mapped_column(ID, index=True)
    key_id: Mapped[str] = mapped_column(String(64))
    issued_at: Mapped[datetime] = mapped_column(IsoDateTime)
    document: Mapped[str] = mapped_column(Text)
    revoked_at: Mapped[datetime | None] = mapped_column(IsoDateTime)
    revocation_reason: Mapped[str | None] = mapped_column(Text)
    # Opens the certificate's public page (its QR code); never part of the signed document.
    # The default covers rows stored by tools and tests; the handler sets it when it issues.
    verification_token: Mapped[str] = mapped_column(String(64), default=new_verification_token)
    # The page looks a token up by its SHA-256 (migration 0006; on PostgreSQL a trigger fills it too).
    verification_token_sha256: Mapped[str | None] = mapped_column(String(64), unique=True)
    # The certificate's place in the credentials' Bitstring Status List: assigned once by the
    # database (a trigger of migration 0006), never changed.
    status_index: Mapped[int | None] = mapped_column(BigInteger, unique=True)


class CounterRow(Base):
    __tablename__ = "counters"
    name: Mapped[str] = mapped_column(String(400), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger)


class OutboxRow(Base):
    """Messages to publish, written in the same transaction as the state they report."""

    __tablename__ = "outbox"
    __table_args__ = (
        Index(
            "ix_outbox_unpublished",
            "id",
            postgresql_where=text("published_at IS NULL"),
            sqlite_where=text("published_at IS NULL"),
        ),
    )
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(String(64), unique=True)
    topic: Mapped[str] = mapped_column(String(200))
    key: Mapped[bytes | None] = mapped_column(LargeBinary)
    value: Mapped[bytes | None] = mapped_column(LargeBinary)
    headers: Mapped[str] = mapped_column(Text, default="[]")
    type: Mapped[str] = mapped_column(String(200))
    student_id: Mapped[str | None] = mapped_column(ID)
    application_id: Mapped[str | None] = mapped_column(ID)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    # When the fact that led to this message happened at its source (for latency).
    trigger_time: Mapped[datetime | None] = mapped_column(UtcDateTime)
    published_at: Mapped[datetime | None] = mapped_column(UtcDateTime, index=True)
    # A row the broker refused for a reason no retry will cure: kept, shown to operators, skipped by
    # the relay until an operator releases it (`clearance dlq release`).
    set_aside_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    set_aside_reason: Mapped[str | None] = mapped_column(Text)


class DeadLetterRow(Base):
    """Every message that could not be applied, with why and where it came from (G7)."""

    __tablename__ = "dead_letters"
    __table_args__ = (UniqueConstraint("origin_topic", "origin_partition", "origin_offset"),)
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True)
    origin_topic: Mapped[str] = mapped_column(String(300))
    origin_partition: Mapped[int] = mapped_column(Integer)
    origin_offset: Mapped[int] = mapped_column(BigInteger)
    key: Mapped[bytes | None] = mapped_column(LargeBinary)
    value: Mapped[bytes | None] = mapped_column(LargeBinary)
    error_kind: Mapped[str] = mapped_column(String(40))
    error_message: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    replayed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    replay_count: Mapped[int] = mapped_column(Integer, default=0)
