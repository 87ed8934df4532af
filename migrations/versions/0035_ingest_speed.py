"""drop the events index by campaign and type

Revision ID: 0035
Revises: 0030
Create Date: 2026-12-03

Every index on ``events`` is written for each of a webhook batch's thousand new rows.
``ix_events_campaign_type`` served reports that read events per campaign; reports read the
counters kept at ingest now (:mod:`campaigns.rollups`), and the one query left that went
by campaign (unknown deliveries' evidence, :mod:`campaigns.unknowns`) goes through the
subscriber index, like the soft-bounce streaks. On PostgreSQL dropping the partitioned
table's index drops every partition's.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0035"
down_revision: str | None = "0034"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEX = "ix_events_campaign_type"


def upgrade() -> None:
    op.drop_index(INDEX, table_name="events")


def downgrade() -> None:
    op.create_index(INDEX, "events", ["campaign_id", "type"])
