"""editors

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25

Editor accounts of the web app (argon2 password hashes, roles, login lockout).
Written in parallel with the tracking migration (0004), then put after it.
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import newsletter.db

revision: str = '0005'
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('editors',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('email', sa.String(length=320), nullable=False),
    sa.Column('password_hash', sa.String(length=200), nullable=False),
    sa.Column('role', sa.String(length=10), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('session_stamp', sa.String(length=40), nullable=False),
    sa.Column('failed_logins', sa.Integer(), nullable=False),
    sa.Column('locked_until', newsletter.db.UTCDateTime(), nullable=True),
    sa.Column('created_at', newsletter.db.UTCDateTime(), nullable=False),
    sa.Column('last_login_at', newsletter.db.UTCDateTime(), nullable=True),
    sa.CheckConstraint("role IN ('editor', 'admin')", name=op.f('ck_editors_role')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_editors')),
    sa.UniqueConstraint('email', name=op.f('uq_editors_email'))
    )


def downgrade() -> None:
    op.drop_table('editors')
