"""subscribers

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25

Subscribers, consent records, suppressions, segments and the confirmation-mail queue.
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import newsletter.db

revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('segments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('rule', sa.JSON(), nullable=False),
    sa.Column('options', sa.JSON(), nullable=False),
    sa.Column('created_at', newsletter.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('modified_at', newsletter.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_segments')),
    sa.UniqueConstraint('name', name=op.f('uq_segments_name'))
    )
    op.create_table('subscribers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('uid', sa.String(length=32), nullable=False),
    sa.Column('email', sa.String(length=320), nullable=True),
    sa.Column('email_key', sa.String(length=320), nullable=True),
    sa.Column('email_hash', sa.String(length=64), nullable=True),
    sa.Column('name', sa.String(length=100), nullable=True),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('topics', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('narratives', sa.String(length=12), nullable=False),
    sa.Column('attributes', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('source', sa.String(length=100), nullable=True),
    sa.Column('created_at', newsletter.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('confirmed_at', newsletter.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('unsubscribed_at', newsletter.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('erased_at', newsletter.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('confirmation_sent_at', newsletter.db.UTCDateTime(timezone=True), nullable=True),
    sa.CheckConstraint("narratives IN ('all', 'facts-only', 'no-forecast')", name=op.f('ck_subscribers_narratives')),
    sa.CheckConstraint("status IN ('pending', 'active', 'unsubscribed', 'bounced', 'complained')", name=op.f('ck_subscribers_status')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_subscribers')),
    sa.UniqueConstraint('email_key', name=op.f('uq_subscribers_email_key')),
    sa.UniqueConstraint('uid', name=op.f('uq_subscribers_uid'))
    )
    with op.batch_alter_table('subscribers', schema=None) as batch_op:
        batch_op.create_index('ix_subscribers_status_created_at', ['status', 'created_at'], unique=False)

    op.create_table('suppressions',
    sa.Column('email_hash', sa.String(length=64), nullable=False),
    sa.Column('reason', sa.String(length=12), nullable=False),
    sa.Column('at', newsletter.db.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("reason IN ('erased', 'bounced', 'complained', 'manual')", name=op.f('ck_suppressions_reason')),
    sa.PrimaryKeyConstraint('email_hash', name=op.f('pk_suppressions'))
    )
    op.create_table('consent_records',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('subscriber_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=12), nullable=False),
    sa.Column('at', newsletter.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('ip', sa.String(length=45), nullable=True),
    sa.Column('user_agent', sa.String(length=500), nullable=True),
    sa.Column('source', sa.String(length=100), nullable=True),
    sa.Column('form', sa.JSON(), nullable=False),
    sa.CheckConstraint("kind IN ('signup', 'confirm', 'preferences', 'unsubscribe', 'import', 'add')", name=op.f('ck_consent_records_kind')),
    sa.ForeignKeyConstraint(['subscriber_id'], ['subscribers.id'], name=op.f('fk_consent_records_subscriber_id_subscribers'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_consent_records'))
    )
    with op.batch_alter_table('consent_records', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_consent_records_subscriber_id'), ['subscriber_id'], unique=False)

    op.create_table('mail_queue',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('subscriber_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('created_at', newsletter.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('available_at', newsletter.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('locked_until', newsletter.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('sent_at', newsletter.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_error', sa.String(length=1000), nullable=True),
    sa.CheckConstraint("kind IN ('confirmation')", name=op.f('ck_mail_queue_kind')),
    sa.CheckConstraint("status IN ('queued', 'sending', 'sent', 'failed', 'skipped')", name=op.f('ck_mail_queue_status')),
    sa.ForeignKeyConstraint(['subscriber_id'], ['subscribers.id'], name=op.f('fk_mail_queue_subscriber_id_subscribers'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mail_queue'))
    )
    with op.batch_alter_table('mail_queue', schema=None) as batch_op:
        batch_op.create_index('ix_mail_queue_status_available_at', ['status', 'available_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_mail_queue_subscriber_id'), ['subscriber_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('mail_queue', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_mail_queue_subscriber_id'))
        batch_op.drop_index('ix_mail_queue_status_available_at')

    op.drop_table('mail_queue')
    with op.batch_alter_table('consent_records', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_consent_records_subscriber_id'))

    op.drop_table('consent_records')
    op.drop_table('suppressions')
    with op.batch_alter_table('subscribers', schema=None) as batch_op:
        batch_op.drop_index('ix_subscribers_status_created_at')

    op.drop_table('subscribers')
    op.drop_table('segments')
