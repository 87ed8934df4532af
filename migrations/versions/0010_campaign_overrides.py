"""campaign overrides

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02

Campaigns get ``overrides``: the checks an editor chose to pass before starting (each
recorded as ``{check, reason, by, at}``), e.g. sending a brief whose citations point to no
source. Existing campaigns have recorded none: they get an empty list.
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0010'
down_revision: str | None = '0009'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Added with a server default of ``[]`` so every existing row has its list at once (in
    place on SQLite, which would otherwise rebuild the table and cascade-delete deliveries)."""
    op.add_column(
        'campaigns',
        sa.Column('overrides', sa.JSON(), nullable=False, server_default=sa.text("'[]'")),
    )


def downgrade() -> None:
    op.drop_column('campaigns', 'overrides')
