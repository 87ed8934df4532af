"""forecast url

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-26

A forecast narrative may name the question or market it comes from (``narratives[].url``
in the brief formats); the email links it. Existing forecasts have none: nothing to move.
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0009'
down_revision: str | None = '0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('brief_narratives', schema=None) as batch_op:
        batch_op.add_column(sa.Column('url', sa.String(length=2000), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('brief_narratives', schema=None) as batch_op:
        batch_op.drop_column('url')
