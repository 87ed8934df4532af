"""sunset policy

Revision ID: 0014
Revises: 0013 (0013 once the deliverability branch's 0012/0013 are merged: fix at merge)
Create Date: 2026-12-02

Subscribers get three nullable columns for the sunset policy (``reengage_sent_at``,
``lapsed_at``, ``kept_at``): added in place, on SQLite too, so the subscribers table (whose
foreign keys cascade) is never rebuilt. The mail queue's ``kind`` check gains ``keep``:
SQLite cannot alter a CHECK, so that table is copied (batch mode); nothing refers to it.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import newsletter.db

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = ("reengage_sent_at", "lapsed_at", "kept_at")


def _kind_check(kinds: tuple[str, ...]) -> None:
    with op.batch_alter_table("mail_queue") as batch:
        batch.drop_constraint(op.f("ck_mail_queue_kind"), type_="check")
        batch.create_check_constraint(
            "kind", sa.text(f"kind IN ({', '.join(repr(k) for k in kinds)})")
        )


def upgrade() -> None:
    for name in COLUMNS:
        op.add_column(
            "subscribers",
            sa.Column(name, newsletter.db.UTCDateTime(timezone=True), nullable=True),
        )
    _kind_check(("confirmation", "keep"))


def downgrade() -> None:
    op.execute("DELETE FROM mail_queue WHERE kind = 'keep'")
    _kind_check(("confirmation",))
    for name in reversed(COLUMNS):
        op.drop_column("subscribers", name)
