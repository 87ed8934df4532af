"""api key allowance in the database

Revision ID: 0030
Revises: 0022
Create Date: 2026-12-02

A key's rate limit was a token bucket in each server process's memory, so ``N`` processes
let a key make ``N`` times its requests. The one number the limit needs now lives on the
key's row (``allowance_used_until``, seconds since the epoch; 0 for existing keys: a full
allowance), read and advanced by every process with one conditional UPDATE.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0030"
down_revision: str | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "api_keys",
        sa.Column("allowance_used_until", sa.Double(), server_default="0", nullable=False),
    )


def downgrade() -> None:
    op.drop_column("api_keys", "allowance_used_until")
