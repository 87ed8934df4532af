"""login throttle

Revision ID: 0008
Revises: 0006
Create Date: 2026-11-26

Failed logins are counted per (account, client address) and per address in
``login_failures`` (growing waits) instead of locking the account (``failed_logins``,
``locked_until``), which let anyone lock out an editor whose address they knew.

Existing data: the old counts carry no client address, so they cannot become counts of
the new kind; a current lock is lifted, since lifting it is the point of the change. On
downgrade the accounts start unlocked with no failures.
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import newsletter.db

revision: str = '0008'
down_revision: str | None = '0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('login_failures',
    sa.Column('account', sa.String(length=320), nullable=False),
    sa.Column('address', sa.String(length=100), nullable=False),
    sa.Column('failures', sa.Integer(), nullable=False),
    sa.Column('wait_until', newsletter.db.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('account', 'address', name=op.f('pk_login_failures'))
    )
    with op.batch_alter_table('login_failures', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_login_failures_wait_until'), ['wait_until'], unique=False)

    with op.batch_alter_table('editors', schema=None) as batch_op:
        batch_op.drop_column('locked_until')
        batch_op.drop_column('failed_logins')


def downgrade() -> None:
    with op.batch_alter_table('editors', schema=None) as batch_op:
        batch_op.add_column(sa.Column('failed_logins', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('locked_until', newsletter.db.UTCDateTime(), nullable=True))
    with op.batch_alter_table('editors', schema=None) as batch_op:
        batch_op.alter_column('failed_logins', server_default=None)

    with op.batch_alter_table('login_failures', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_login_failures_wait_until'))

    op.drop_table('login_failures')
