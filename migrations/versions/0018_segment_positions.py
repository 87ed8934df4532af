"""segment positions

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-02

Segments get a ``position``: the order editors give them in the editor's segment list (and
the order a new campaign offers them in). Added in place, on SQLite too (the segments table
is referred to by campaigns, so it is never rebuilt); existing segments are numbered in
name order, which is the order they were listed in before.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "segments", sa.Column("position", sa.Integer(), nullable=False, server_default="0")
    )
    connection = op.get_bind()
    names = connection.execute(sa.text("SELECT id FROM segments ORDER BY name")).scalars()
    for position, segment_id in enumerate(list(names), start=1):
        connection.execute(
            sa.text("UPDATE segments SET position = :position WHERE id = :id"),
            {"position": position, "id": segment_id},
        )


def downgrade() -> None:
    op.drop_column("segments", "position")  # in place (SQLite ≥ 3.35), never a copy
