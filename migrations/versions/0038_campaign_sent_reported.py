"""campaigns remember when ``campaign.sent`` was reported

Revision ID: 0038
Revises: 0037
Create Date: 2026-12-03

A campaign that sends again (``send --retry-unknown``, a quarantine resend) finishes again;
``campaigns.sent_reported_at`` makes the outbound ``campaign.sent`` report go out the first
time only. Campaigns already sent were reported when they finished, so they get their
``finished_at``; one sending again at upgrade time (its ``finished_at`` cleared) will report
once more when it finishes.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from newsletter.db import UTCDateTime

revision: str = "0038"
down_revision: str | None = "0037"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("campaigns", sa.Column("sent_reported_at", UTCDateTime(), nullable=True))
    op.execute(
        "UPDATE campaigns SET sent_reported_at = finished_at "
        "WHERE status = 'sent' AND finished_at IS NOT NULL"
    )


def downgrade() -> None:
    op.drop_column("campaigns", "sent_reported_at")
