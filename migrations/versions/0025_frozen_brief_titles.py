"""frozen brief titles

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-02

Campaigns keep their briefs' titles as they were at the freeze (``brief_titles``), so the
public archive index and its Atom feed list a sent issue as it was sent even after a brief is
renamed. Added in place (campaigns is never rebuilt on SQLite). Campaigns frozen before this
get the titles their briefs have now: the best that is known.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0025"
down_revision: str | None = "0024"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_CAMPAIGNS = sa.table("campaigns", sa.column("id", sa.Integer()), sa.column("brief_titles", sa.JSON()))


def upgrade() -> None:
    op.add_column("campaigns", sa.Column("brief_titles", sa.JSON(), nullable=True))
    connection = op.get_bind()
    rows = connection.execute(
        sa.text(
            "SELECT cb.campaign_id, b.title FROM campaign_briefs cb"
            " JOIN briefs b ON b.id = cb.brief_id"
            " JOIN campaigns c ON c.id = cb.campaign_id"
            " WHERE c.frozen_at IS NOT NULL ORDER BY cb.campaign_id, cb.position"
        )
    )
    titles: dict[int, list[str]] = {}
    for campaign_id, title in rows:
        titles.setdefault(campaign_id, []).append(title)
    for campaign_id, listed in titles.items():
        connection.execute(
            _CAMPAIGNS.update().where(_CAMPAIGNS.c.id == campaign_id).values(brief_titles=listed)
        )


def downgrade() -> None:
    op.drop_column("campaigns", "brief_titles")  # in place (SQLite ≥ 3.35), never a copy
