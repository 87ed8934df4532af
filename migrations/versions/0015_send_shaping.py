"""send shaping: shared limits, warm-up, delivery window

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-02

Campaigns get a nullable ``spread_minutes`` (the delivery window), added and dropped in
place (SQLite too: the campaigns table, whose foreign keys cascade, is never rebuilt). Three new
tables hold what every worker shares (campaigns.shaping): ``send_pacing`` (the next free
moment per pacing key), ``send_quotas`` (messages counted in the current hour or day window
per key) and ``sending_domains`` (the first sending day of each From domain: warm-up day 1).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import newsletter.db

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("campaigns", sa.Column("spread_minutes", sa.Float(), nullable=True))
    op.create_table(
        "send_pacing",
        sa.Column("key", sa.String(length=300), nullable=False),
        sa.Column("free_at", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_send_pacing")),
    )
    op.create_table(
        "send_quotas",
        sa.Column("key", sa.String(length=300), nullable=False),
        sa.Column("period", sa.String(length=4), nullable=False),
        sa.Column("starts_at", newsletter.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("used", sa.Integer(), nullable=False),
        sa.Column("granted", sa.Integer(), nullable=False),
        sa.CheckConstraint("period IN ('hour', 'day')", name=op.f("ck_send_quotas_period")),
        sa.PrimaryKeyConstraint("key", "period", name=op.f("pk_send_quotas")),
    )
    op.create_table(
        "sending_domains",
        sa.Column("domain", sa.String(length=255), nullable=False),
        sa.Column("first_sent_on", sa.Date(), nullable=False),
        sa.Column("created_at", newsletter.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("domain", name=op.f("pk_sending_domains")),
    )


def downgrade() -> None:
    op.drop_table("sending_domains")
    op.drop_table("send_quotas")
    op.drop_table("send_pacing")
    op.drop_column("campaigns", "spread_minutes")  # in place: campaigns is never rebuilt
