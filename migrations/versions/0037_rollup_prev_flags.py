"""delivery_rollups.prev_flags: a delivery's bits before their last change

Revision ID: 0037
Revises: 0036
Create Date: 2026-12-03

Ingest added a batch's bits to ``delivery_rollups`` in three statements (insert the new
rows, lock and read the existing ones, update those that change) because it must know
each row's bits before and after. With ``prev_flags`` one ``INSERT … ON CONFLICT DO UPDATE
SET prev_flags = flags, flags = flags | new … RETURNING`` tells both, read under the row's
lock (``campaigns.rollups._merge_marks``). Existing rows get 0: the column only ever
matters in the statement that sets it.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0037"
down_revision: str | None = "0036"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "delivery_rollups",
        sa.Column("prev_flags", sa.Integer(), nullable=False, server_default="0"),
    )


def downgrade() -> None:
    # a plain DROP COLUMN, not a table rebuild: on SQLite the triggers on ``deliveries``
    # name this table, and a rebuild's rename would trip over them
    op.execute("ALTER TABLE delivery_rollups DROP COLUMN prev_flags")
