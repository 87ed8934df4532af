"""unknown retry

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02

Unknown deliveries are resolved from evidence after a crash (campaigns.unknowns): a campaign
may ask for those without evidence to be resent after a quarantine
(``campaigns.retry_unknown_after``, minutes; NULL: only on purpose, as before), and a row
resent that way says when (``deliveries.resent_after_unknown_at``), so the report counts it
apart. A partial index on ``unknown`` rows lets workers find the due ones without reading a
campaign's sent rows (there are few unknown rows, so it costs next to nothing).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import newsletter.db

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("campaigns", sa.Column("retry_unknown_after", sa.Float(), nullable=True))
    op.add_column(
        "deliveries",
        sa.Column("resent_after_unknown_at", newsletter.db.UTCDateTime(), nullable=True),
    )
    op.create_index(
        "ix_deliveries_unknown",
        "deliveries",
        ["campaign_id", "updated_at"],
        unique=False,
        postgresql_where=sa.text("status = 'unknown'"),
        sqlite_where=sa.text("status = 'unknown'"),
    )


def downgrade() -> None:
    op.drop_index("ix_deliveries_unknown", table_name="deliveries")
    op.drop_column("deliveries", "resent_after_unknown_at")
    op.drop_column("campaigns", "retry_unknown_after")
