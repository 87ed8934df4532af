"""subscriber engagement

Revision ID: 0024
Revises: 0020
Create Date: 2026-12-02

Each reader's last human open and last click on content, in a table of their own, so that
engagement segments ("opened in the last 30 days") read one row per reader instead of every
event ever stored (and stay right after old events are pruned). Filled from the events
already stored, with the rules :func:`campaigns.engagement.human_engagement` and
:func:`campaigns.events.reader_click` apply: a click on content counts as an open; machine
events and clicks on our own links (masthead, contents, footer, confirmation, keep) do not.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import newsletter.db

revision: str = "0024"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_READER_CLICK = (
    "type = 'clicked' AND NOT machine"
    " AND (section IS NULL OR section NOT IN ('masthead', 'toc', 'footer', 'confirm', 'keep'))"
)
_HUMAN = f"(type = 'opened' AND NOT machine) OR ({_READER_CLICK})"


def upgrade() -> None:
    op.create_table(
        "subscriber_engagement",
        sa.Column("subscriber_id", sa.Integer(), nullable=False),
        sa.Column("last_opened_at", newsletter.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_clicked_at", newsletter.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["subscriber_id"],
            ["subscribers.id"],
            name=op.f("fk_subscriber_engagement_subscriber_id_subscribers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("subscriber_id", name=op.f("pk_subscriber_engagement")),
    )
    op.execute(
        "INSERT INTO subscriber_engagement (subscriber_id, last_opened_at, last_clicked_at)"
        f" SELECT subscriber_id, max(CASE WHEN {_HUMAN} THEN occurred_at END),"
        f" max(CASE WHEN {_READER_CLICK} THEN occurred_at END)"
        " FROM events"
        " WHERE subscriber_id IS NOT NULL"
        " AND subscriber_id IN (SELECT id FROM subscribers)"
        f" AND ({_HUMAN})"
        " GROUP BY subscriber_id"
    )
    op.create_index(
        "ix_subscriber_engagement_opened", "subscriber_engagement", ["last_opened_at"]
    )
    op.create_index(
        "ix_subscriber_engagement_clicked", "subscriber_engagement", ["last_clicked_at"]
    )


def downgrade() -> None:
    op.drop_table("subscriber_engagement")
