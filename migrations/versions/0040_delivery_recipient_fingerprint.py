"""deliveries keep a fingerprint of their recipient's address

Revision ID: 0040
Revises: 0039
Create Date: 2026-12-03

``deliveries.recipient_fingerprint`` is the first 16 hex digits of the recipient's
``email_hash``, copied by the freeze. The webhook ingest checks that the address a
provider's event names is the one its delivery was sent to; it read the subscriber of every
delivery a batch named for that (a join that was half the ingest's database time at a
million readers) and now reads the delivery alone. Erasing a subscriber clears it.

Existing deliveries get their subscriber's digest, NULL for erased subscribers (whose
``email_hash`` is NULL already): what the join read until now, so events of deliveries
made before the upgrade are tied exactly as before. One statement; on PostgreSQL an
``UPDATE … FROM`` join (a correlated look-up per row on SQLite, which has no such size).
It rewrites every delivery row: about 18 s per million deliveries on the 2-core machine of
docs/benchmarks.md, during which sends wait; ``VACUUM ANALYZE deliveries`` afterwards
gives the old row versions' space back to later campaigns.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0040"
down_revision: str | None = "0039"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("deliveries", sa.Column("recipient_fingerprint", sa.String(16), nullable=True))
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "UPDATE deliveries SET recipient_fingerprint = substr(subscribers.email_hash, 1, 16) "
            "FROM subscribers WHERE subscribers.id = deliveries.subscriber_id "
            "AND subscribers.email_hash IS NOT NULL"
        )
    else:
        op.execute(
            "UPDATE deliveries SET recipient_fingerprint = (SELECT substr(email_hash, 1, 16) "
            "FROM subscribers WHERE subscribers.id = deliveries.subscriber_id)"
        )


def downgrade() -> None:
    op.drop_column("deliveries", "recipient_fingerprint")
