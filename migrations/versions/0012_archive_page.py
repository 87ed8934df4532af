"""archive page

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02

``campaigns.archive_html``: the issue as the public archive shows it (every brief and
narrative, nothing personal), compiled at freeze. Campaigns frozen before have none: the
archive falls back to their first variant's web version.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("campaigns", sa.Column("archive_html", sa.Text(), nullable=True))


def downgrade() -> None:
    op.drop_column("campaigns", "archive_html")
