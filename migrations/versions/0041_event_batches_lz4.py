"""event batches' payload documents compressed with lz4 on PostgreSQL

Revision ID: 0041
Revises: 0040
Create Date: 2026-12-03

A webhook batch's payloads are one JSON document of about 370 KB per 1,000 events
(:class:`campaigns.events.EventBatch`), which PostgreSQL compresses on the way into TOAST.
Its default method, pglz, took 2.5–2.8 ms of the database's CPU per document on the 2-core
machine of docs/benchmarks.md, lz4 0.65–0.75 ms, for about a tenth more bytes: two of
the fifty or so milliseconds a batch costs PostgreSQL. Rows already stored keep their
compression until rewritten (the payloads are dropped after their period anyway).

Only where the server can (PostgreSQL 14 or later, built with lz4, as Debian's and the
official images are): elsewhere, and on SQLite, nothing changes.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op
from sqlalchemy import text

revision: str = "0041"
down_revision: str | None = "0040"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_HAS_LZ4 = text(
    "SELECT 1 FROM pg_settings WHERE name = 'default_toast_compression' "
    "AND 'lz4' = ANY(enumvals)"
)


def _lz4_available() -> bool:
    bind = op.get_bind()
    return bind.dialect.name == "postgresql" and bind.execute(_HAS_LZ4).first() is not None


def upgrade() -> None:
    if _lz4_available():
        op.execute("ALTER TABLE event_batches ALTER COLUMN events SET COMPRESSION lz4")


def downgrade() -> None:
    if _lz4_available():
        op.execute("ALTER TABLE event_batches ALTER COLUMN events SET COMPRESSION default")
