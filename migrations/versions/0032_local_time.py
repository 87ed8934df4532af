"""delivery at the reader's local time

Revision ID: 0032
Revises: 0030
Create Date: 2026-12-03

Subscribers get an IANA time zone (NULL: NEWSLETTER_DEFAULT_TIME_ZONE), campaigns a local
send time (NULL: at once), deliveries a not-before moment (NULL: at once). Claims of a
local-time campaign go through a partial index of its queued rows ordered by that moment, so
a claim reads only due rows. Three nullable columns: existing rows keep their meaning (send
at once) and no table is rebuilt.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import newsletter.db

revision: str = "0032"
down_revision: str | None = "0031"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_LOCAL_QUEUED = sa.text("status = 'queued' AND not_before IS NOT NULL")


def upgrade() -> None:
    op.add_column("subscribers", sa.Column("time_zone", sa.String(length=64), nullable=True))
    op.add_column("campaigns", sa.Column("local_send_time", sa.Time(), nullable=True))
    op.add_column("deliveries", sa.Column("not_before", newsletter.db.UTCDateTime(), nullable=True))
    op.create_index(
        "ix_deliveries_queued_local",
        "deliveries",
        ["campaign_id", "not_before", "variant_id", "id"],
        unique=False,
        postgresql_where=_LOCAL_QUEUED,
        sqlite_where=_LOCAL_QUEUED,
    )


def downgrade() -> None:
    op.drop_index(
        "ix_deliveries_queued_local",
        table_name="deliveries",
        postgresql_where=_LOCAL_QUEUED,
        sqlite_where=_LOCAL_QUEUED,
    )
    op.drop_column("deliveries", "not_before")
    op.drop_column("campaigns", "local_send_time")
    op.drop_column("subscribers", "time_zone")
