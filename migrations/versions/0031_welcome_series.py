"""welcome series

Revision ID: 0031
Revises: 0030
Create Date: 2026-12-03

Three new tables: the editor's steps (``welcome_steps``), the campaign each step version is
sent through (``welcome_campaigns``) and who was queued which step (``welcome_receipts``,
unique per subscriber and step: "never twice"), and an index on ``subscribers.confirmed_at``
(added in place, no table copy) for the due readers' window. Otherwise existing tables are
not touched: the campaigns' ``kind`` check is left as it is because SQLite could only change
it by copying the campaigns table, whose dependants cascade on delete; welcome campaigns are
told apart by ``welcome_campaigns`` instead. Going back marks the welcome campaigns ``cancelled`` (their
deliveries and reports stay) so that the public archive does not list them as issues.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import newsletter.db

revision: str = "0031"
down_revision: str | None = "0030"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "welcome_steps",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("delay_days", sa.Integer(), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("updated_at", newsletter.db.UTCDateTime(), nullable=False),
        sa.CheckConstraint(
            "delay_days >= 0 AND delay_days <= 3650", name=op.f("ck_welcome_steps_delay_days")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_welcome_steps")),
    )
    op.create_table(
        "welcome_campaigns",
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("step_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaigns.id"],
            name=op.f("fk_welcome_campaigns_campaign_id_campaigns"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["step_id"],
            ["welcome_steps.id"],
            name=op.f("fk_welcome_campaigns_step_id_welcome_steps"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("campaign_id", name=op.f("pk_welcome_campaigns")),
        sa.UniqueConstraint("step_id", "version", name=op.f("uq_welcome_campaigns_step_id_version")),
    )
    op.create_table(
        "welcome_receipts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("subscriber_id", sa.Integer(), nullable=False),
        sa.Column("step_id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("queued_at", newsletter.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaigns.id"],
            name=op.f("fk_welcome_receipts_campaign_id_campaigns"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["step_id"],
            ["welcome_steps.id"],
            name=op.f("fk_welcome_receipts_step_id_welcome_steps"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["subscriber_id"],
            ["subscribers.id"],
            name=op.f("fk_welcome_receipts_subscriber_id_subscribers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_welcome_receipts")),
        sa.UniqueConstraint(
            "subscriber_id", "step_id", name=op.f("uq_welcome_receipts_subscriber_id_step_id")
        ),
    )
    # Each schedule round asks which readers confirmed in a week-long window: an index
    # range, not a scan of every subscriber, per step.
    op.create_index("ix_subscribers_confirmed_at", "subscribers", ["confirmed_at"], unique=False)
    op.create_index(
        "ix_welcome_receipts_campaign_id", "welcome_receipts", ["campaign_id"], unique=False
    )


def downgrade() -> None:
    # Without welcome_campaigns the older code would list a sent welcome campaign in the
    # public archive as an issue: cancelled, it keeps its deliveries and report but is not.
    op.execute(
        "UPDATE campaigns SET status = 'cancelled' "
        "WHERE id IN (SELECT campaign_id FROM welcome_campaigns)"
    )
    op.drop_index("ix_welcome_receipts_campaign_id", table_name="welcome_receipts")
    op.drop_table("welcome_receipts")
    op.drop_table("welcome_campaigns")
    op.drop_table("welcome_steps")
    op.drop_index("ix_subscribers_confirmed_at", table_name="subscribers")
