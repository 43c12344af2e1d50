"""Initial schema: projections, applications, certificates, inbox, outbox, dead letters.

Revision ID: 0001
Revises: 
Create Date: 2026-11-24 15:17:44.622131
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('applications',
    sa.Column('application_id', sa.String(length=200), nullable=False),
    sa.Column('student_id', sa.String(length=200), nullable=False),
    sa.Column('full_name', sa.Text(), nullable=True),
    sa.Column('faculty', sa.Text(), nullable=True),
    sa.Column('program', sa.Text(), nullable=True),
    sa.Column('degree_level', sa.String(length=20), nullable=True),
    sa.Column('graduation_period', sa.String(length=200), nullable=True),
    sa.Column('ceremony_date', sa.String(length=10), nullable=True),
    sa.Column('submitted_at', sa.String(length=40), nullable=True),
    sa.Column('submitted_stamp', sa.String(length=1300), nullable=True),
    sa.Column('withdrawn', sa.Boolean(), nullable=False),
    sa.Column('withdrawn_reason', sa.Text(), nullable=True),
    sa.Column('withdrawn_at', sa.String(length=40), nullable=True),
    sa.Column('status', sa.Enum('pending', 'blocked', 'cleared', 'withdrawn', 'revoked', name='status', native_enum=False, length=20), nullable=False),
    sa.Column('reasons', sa.Text(), nullable=False),
    sa.Column('policy_digest', sa.String(length=64), nullable=True),
    sa.Column('evaluated_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('application_id', name=op.f('pk_applications'))
    )
    with op.batch_alter_table('applications', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_applications_status'), ['status'], unique=False)
        batch_op.create_index(batch_op.f('ix_applications_student_id'), ['student_id'], unique=False)

    op.create_table('certificates',
    sa.Column('number', sa.String(length=200), nullable=False),
    sa.Column('application_id', sa.String(length=200), nullable=False),
    sa.Column('student_id', sa.String(length=200), nullable=False),
    sa.Column('key_id', sa.String(length=64), nullable=False),
    sa.Column('issued_at', sa.String(length=40), nullable=False),
    sa.Column('document', sa.Text(), nullable=False),
    sa.Column('revoked_at', sa.String(length=40), nullable=True),
    sa.Column('revocation_reason', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('number', name=op.f('pk_certificates')),
    sa.UniqueConstraint('application_id', name=op.f('uq_certificates_application_id'))
    )
    with op.batch_alter_table('certificates', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_certificates_student_id'), ['student_id'], unique=False)

    op.create_table('counters',
    sa.Column('name', sa.String(length=400), nullable=False),
    sa.Column('value', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_counters'))
    )
    op.create_table('dead_letters',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('origin_topic', sa.String(length=300), nullable=False),
    sa.Column('origin_partition', sa.Integer(), nullable=False),
    sa.Column('origin_offset', sa.BigInteger(), nullable=False),
    sa.Column('key', sa.LargeBinary(), nullable=True),
    sa.Column('value', sa.LargeBinary(), nullable=True),
    sa.Column('error_kind', sa.String(length=40), nullable=False),
    sa.Column('error_message', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_dead_letters')),
    sa.UniqueConstraint('origin_topic', 'origin_partition', 'origin_offset', name=op.f('uq_dead_letters_origin_topic_origin_partition_origin_offset'))
    )
    with op.batch_alter_table('dead_letters', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_dead_letters_created_at'), ['created_at'], unique=False)

    op.create_table('deposits',
    sa.Column('deposit_id', sa.String(length=200), nullable=False),
    sa.Column('student_id', sa.String(length=200), nullable=False),
    sa.Column('title', sa.Text(), nullable=True),
    sa.Column('degree_level', sa.String(length=20), nullable=True),
    sa.Column('submitted_stamp', sa.String(length=1300), nullable=True),
    sa.Column('state', sa.Enum('submitted', 'accepted', 'rejected', name='depositstate', native_enum=False, length=20), nullable=True),
    sa.Column('state_stamp', sa.String(length=1300), nullable=True),
    sa.Column('repository_id', sa.Text(), nullable=True),
    sa.Column('rejection_reason', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('deposit_id', name=op.f('pk_deposits'))
    )
    with op.batch_alter_table('deposits', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_deposits_student_id'), ['student_id'], unique=False)

    op.create_table('fines',
    sa.Column('library_id', sa.String(length=200), nullable=False),
    sa.Column('fine_id', sa.String(length=200), nullable=False),
    sa.Column('patron_id', sa.String(length=200), nullable=True),
    sa.Column('amount', sa.String(length=40), nullable=True),
    sa.Column('currency', sa.String(length=3), nullable=True),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('loan_id', sa.String(length=200), nullable=True),
    sa.Column('assessed_stamp', sa.String(length=1300), nullable=True),
    sa.Column('paid', sa.String(length=40), nullable=False),
    sa.Column('waived', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('library_id', 'fine_id', name=op.f('pk_fines'))
    )
    with op.batch_alter_table('fines', schema=None) as batch_op:
        batch_op.create_index('ix_fines_patron', ['patron_id', 'library_id'], unique=False)

    op.create_table('inbox',
    sa.Column('source', sa.String(length=1000), nullable=False),
    sa.Column('event_id', sa.String(length=200), nullable=False),
    sa.Column('type', sa.String(length=200), nullable=False),
    sa.Column('processed_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('source', 'event_id', name=op.f('pk_inbox'))
    )
    with op.batch_alter_table('inbox', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_inbox_processed_at'), ['processed_at'], unique=False)

    op.create_table('loans',
    sa.Column('library_id', sa.String(length=200), nullable=False),
    sa.Column('loan_id', sa.String(length=200), nullable=False),
    sa.Column('patron_id', sa.String(length=200), nullable=True),
    sa.Column('item_id', sa.String(length=200), nullable=True),
    sa.Column('title', sa.Text(), nullable=True),
    sa.Column('borrowed_at', sa.String(length=40), nullable=True),
    sa.Column('interlibrary', sa.Boolean(), nullable=False),
    sa.Column('opened_stamp', sa.String(length=1300), nullable=True),
    sa.Column('due_at', sa.String(length=40), nullable=True),
    sa.Column('due_stamp', sa.String(length=1300), nullable=True),
    sa.Column('status', sa.Enum('open', 'lost', 'returned', name='loanstatus', native_enum=False, length=20), nullable=True),
    sa.Column('status_stamp', sa.String(length=1300), nullable=True),
    sa.Column('returned_at', sa.String(length=40), nullable=True),
    sa.PrimaryKeyConstraint('library_id', 'loan_id', name=op.f('pk_loans'))
    )
    with op.batch_alter_table('loans', schema=None) as batch_op:
        batch_op.create_index('ix_loans_patron', ['patron_id', 'library_id'], unique=False)

    op.create_table('outbox',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('event_id', sa.String(length=64), nullable=False),
    sa.Column('topic', sa.String(length=200), nullable=False),
    sa.Column('key', sa.LargeBinary(), nullable=True),
    sa.Column('value', sa.LargeBinary(), nullable=True),
    sa.Column('headers', sa.Text(), nullable=False),
    sa.Column('type', sa.String(length=200), nullable=False),
    sa.Column('student_id', sa.String(length=200), nullable=True),
    sa.Column('application_id', sa.String(length=200), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('trigger_time', sa.DateTime(timezone=True), nullable=True),
    sa.Column('published_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_outbox')),
    sa.UniqueConstraint('event_id', name=op.f('uq_outbox_event_id'))
    )
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_outbox_published_at'), ['published_at'], unique=False)
        batch_op.create_index('ix_outbox_unpublished', ['id'], unique=False, postgresql_where=sa.text('published_at IS NULL'), sqlite_where=sa.text('published_at IS NULL'))

    op.create_table('patron_links',
    sa.Column('library_id', sa.String(length=200), nullable=False),
    sa.Column('patron_id', sa.String(length=200), nullable=False),
    sa.Column('student_id', sa.String(length=200), nullable=True),
    sa.Column('link_stamp', sa.String(length=1300), nullable=True),
    sa.PrimaryKeyConstraint('library_id', 'patron_id', name=op.f('pk_patron_links'))
    )
    with op.batch_alter_table('patron_links', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_patron_links_student_id'), ['student_id'], unique=False)

    op.create_table('students',
    sa.Column('student_id', sa.String(length=200), nullable=False),
    sa.PrimaryKeyConstraint('student_id', name=op.f('pk_students'))
    )
    op.create_table('trainings',
    sa.Column('library_id', sa.String(length=200), nullable=False),
    sa.Column('patron_id', sa.String(length=200), nullable=False),
    sa.Column('course', sa.String(length=200), nullable=False),
    sa.Column('completed_at', sa.String(length=40), nullable=True),
    sa.PrimaryKeyConstraint('library_id', 'patron_id', 'course', name=op.f('pk_trainings'))
    )


def downgrade() -> None:
    op.drop_table('trainings')
    op.drop_table('students')
    with op.batch_alter_table('patron_links', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_patron_links_student_id'))

    op.drop_table('patron_links')
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_index('ix_outbox_unpublished', postgresql_where=sa.text('published_at IS NULL'), sqlite_where=sa.text('published_at IS NULL'))
        batch_op.drop_index(batch_op.f('ix_outbox_published_at'))

    op.drop_table('outbox')
    with op.batch_alter_table('loans', schema=None) as batch_op:
        batch_op.drop_index('ix_loans_patron')

    op.drop_table('loans')
    with op.batch_alter_table('inbox', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_inbox_processed_at'))

    op.drop_table('inbox')
    with op.batch_alter_table('fines', schema=None) as batch_op:
        batch_op.drop_index('ix_fines_patron')

    op.drop_table('fines')
    with op.batch_alter_table('deposits', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_deposits_student_id'))

    op.drop_table('deposits')
    with op.batch_alter_table('dead_letters', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_dead_letters_created_at'))

    op.drop_table('dead_letters')
    op.drop_table('counters')
    with op.batch_alter_table('certificates', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_certificates_student_id'))

    op.drop_table('certificates')
    with op.batch_alter_table('applications', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_applications_student_id'))
        batch_op.drop_index(batch_op.f('ix_applications_status'))

    op.drop_table('applications')
