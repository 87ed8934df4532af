"""fresh preferences links by email

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-02

The mail queue's ``kind`` check gains ``fresh-link`` (a fresh preferences link asked for on
the page of a link that did not work). SQLite cannot alter a CHECK, so that table is copied
(batch mode), as 0014 did; nothing refers to it. Downgrading drops the queued fresh links.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _kind_check(kinds: tuple[str, ...]) -> None:
    with op.batch_alter_table("mail_queue") as batch:
        batch.drop_constraint(op.f("ck_mail_queue_kind"), type_="check")
        batch.create_check_constraint(
            "kind", sa.text(f"kind IN ({', '.join(repr(k) for k in kinds)})")
        )


def upgrade() -> None:
    _kind_check(("confirmation", "keep", "fresh-link"))


def downgrade() -> None:
    op.execute("DELETE FROM mail_queue WHERE kind = 'fresh-link'")
    _kind_check(("confirmation", "keep"))
