"""list health indexes

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-02

The list-health history counts the readers lapsed at past dates
(:func:`subscribers.lapse.lapsed_counts`): readers whose lapse began by a date
(``subscribers.lapsed_at``) and revivals since it (``consent_records`` of kind ``confirm``
after it). Two plain indexes make each count a range scan; no row changes.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_subscribers_lapsed_at", "subscribers", ["lapsed_at"])
    op.create_index("ix_consent_records_kind_at", "consent_records", ["kind", "at"])


def downgrade() -> None:
    op.drop_index("ix_consent_records_kind_at", table_name="consent_records")
    op.drop_index("ix_subscribers_lapsed_at", table_name="subscribers")
