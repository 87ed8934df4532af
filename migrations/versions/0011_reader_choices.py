"""reader choices

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02

A frozen campaign compiles one variant per combination of (segment, narrative mode, topics)
its readers chose: variants get ``choice`` (NULL for a segment's own variant, as every
existing one is), and ``campaign_variant_choices`` records which combination went to which
variant.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("campaign_variants", sa.Column("choice", sa.JSON(), nullable=True))
    op.create_table(
        "campaign_variant_choices",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("variant_id", sa.Integer(), nullable=False),
        sa.Column("segment_position", sa.Integer(), nullable=False),
        sa.Column("narratives", sa.String(length=12), nullable=False),
        sa.Column("topics_key", sa.Text(), nullable=False),
        sa.Column("topics", sa.JSON(), nullable=False),
        sa.Column("readers", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaigns.id"],
            name=op.f("fk_campaign_variant_choices_campaign_id_campaigns"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["variant_id"],
            ["campaign_variants.id"],
            name=op.f("fk_campaign_variant_choices_variant_id_campaign_variants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_campaign_variant_choices")),
    )
    op.create_index(
        op.f("ix_campaign_variant_choices_campaign_id"),
        "campaign_variant_choices",
        ["campaign_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(
        op.f("ix_campaign_variant_choices_campaign_id"), table_name="campaign_variant_choices"
    )
    op.drop_table("campaign_variant_choices")
    op.drop_column("campaign_variants", "choice")
