"""subject tests

Revision ID: 0033
Revises: 0030
Create Date: 2026-12-03

A campaign may try 2–4 subjects on test cells of its audience and send the winner, by
unique human click rate, to the rest (campaigns.subject_tests). The other subjects are rows
of ``subject_candidates``; the campaign keeps the test's share, wait and outcome; a frozen
variant and a delivery know their cell (NULL: the rest, and every campaign without a test,
so existing rows need nothing).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from newsletter.db import UTCDateTime

revision: str = "0033"
down_revision: str | None = "0032"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "subject_candidates",
        sa.Column(
            "campaign_id",
            sa.Integer(),
            sa.ForeignKey("campaigns.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("position", sa.SmallInteger(), primary_key=True),
        sa.Column("subject", sa.String(300), nullable=False),
        sa.Column("preheader", sa.String(300), nullable=True),
    )
    op.add_column("campaigns", sa.Column("test_share", sa.Float(), nullable=True))
    op.add_column("campaigns", sa.Column("test_wait", sa.Float(), nullable=True))
    op.add_column("campaigns", sa.Column("test_decided_at", UTCDateTime(), nullable=True))
    op.add_column("campaigns", sa.Column("test_winner", sa.SmallInteger(), nullable=True))
    op.add_column("campaign_variants", sa.Column("cell", sa.SmallInteger(), nullable=True))
    op.add_column("deliveries", sa.Column("cell", sa.SmallInteger(), nullable=True))


def downgrade() -> None:
    op.drop_column("deliveries", "cell")
    op.drop_column("campaign_variants", "cell")
    for column in ("test_winner", "test_decided_at", "test_wait", "test_share"):
        op.drop_column("campaigns", column)
    op.drop_table("subject_candidates")
