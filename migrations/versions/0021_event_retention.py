"""event retention: compact events, payloads apart, monthly partitions on PostgreSQL

Revision ID: 0021
Revises: 0025
Create Date: 2026-12-02

``events`` is rebuilt in a compact shape and its rows copied over:

- ``type`` and ``source`` become ``smallint`` codes (the names stay in the code:
  ``campaigns.events.TYPE_CODES`` / ``SOURCE_CODES``, copied here as they were);
- the raw provider event, the user agent and ``received_at`` move to ``event_payloads``
  (one row per event, dropped after ``NEWSLETTER_EVENT_PAYLOAD_DAYS`` by ``events prune``);
- ``email_hash`` is kept only for events tied to no subscriber;
- the de-duplication key becomes ``(event_id, source, occurred_at)``;
- on PostgreSQL the table is partitioned by month of ``occurred_at``: a partition for every
  month that has events, this month and the next two, and a DEFAULT partition; ``id`` keeps
  its sequence but is no longer a key (a key there would have to include the time).
  SQLite gets a plain table whose ids are never reused (AUTOINCREMENT), since payloads
  refer to them.

The downgrade rebuilds the former table, with each event's payload and, for tied events,
the address hash taken back from their subscriber.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime

import sqlalchemy as sa
from alembic import op

import newsletter.db

revision: str = "0021"
down_revision: str | None = "0025"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TYPE_CODES = {
    "other": 0,
    "processed": 1,
    "delivered": 2,
    "deferred": 3,
    "bounced": 4,
    "dropped": 5,
    "opened": 6,
    "clicked": 7,
    "complained": 8,
    "unsubscribed": 9,
    "resubscribed": 10,
}
SOURCE_CODES = {"sendgrid": 1, "first-party": 2}
INDEXES = ("ix_events_campaign_type", "ix_events_subscriber_type_occurred")
UNTIED = "ix_events_untied_email_hash"
# the columns both shapes share, copied as they are
SHARED = (
    "id, event_id, occurred_at, delivery_id, campaign_id, variant_id, subscriber_id, machine, "
    "machine_reason, bounce_type, reason, smtp_status, url, link_id, brief_slug, section, "
    "narrative"
)


def _postgres() -> bool:
    return bool(op.get_bind().dialect.name == "postgresql")


def _case(column: str, codes: dict[str, int], *, to_code: bool) -> str:
    pairs = (
        f"WHEN '{name}' THEN {code}" if to_code else f"WHEN {code} THEN '{name}'"
        for name, code in codes.items()
    )
    return f"CASE {column} {' '.join(pairs)} END"


def _drop_indexes(table: str) -> None:
    for name in (*INDEXES, UNTIED):
        op.drop_index(name, table_name=table)


def _create_indexes(kind: str) -> None:
    op.create_index("ix_events_campaign_type", "events", ["campaign_id", kind])
    op.create_index(
        "ix_events_subscriber_type_occurred", "events", ["subscriber_id", kind, "occurred_at"]
    )
    op.create_index(
        UNTIED,
        "events",
        ["email_hash"],
        postgresql_where=sa.text("subscriber_id IS NULL"),
        sqlite_where=sa.text("subscriber_id IS NULL"),
    )


def _next_month(day: date) -> date:
    return date(day.year + day.month // 12, day.month % 12 + 1, 1)


def _create_partitions(months: set[date]) -> None:
    """One partition per month (``events_2026_12``) and the DEFAULT one."""
    for start in sorted(months):
        end = _next_month(start)
        op.execute(
            f"CREATE TABLE events_{start:%Y_%m} PARTITION OF events "
            f"FOR VALUES FROM ('{start.isoformat()} 00:00:00+00') TO ('{end.isoformat()} 00:00:00+00')"
        )
    op.execute("CREATE TABLE events_default PARTITION OF events DEFAULT")


def _months_to_create() -> set[date]:
    found = op.get_bind().execute(
        sa.text(
            "SELECT DISTINCT date_trunc('month', occurred_at AT TIME ZONE 'UTC') FROM events_old"
        )
    )
    months = {moment.date() for (moment,) in found}
    month = datetime.now(UTC).date().replace(day=1)
    for _ in range(3):  # this month and the next two
        months.add(month)
        month = _next_month(month)
    return months


def upgrade() -> None:
    postgres = _postgres()
    _drop_indexes("events")
    op.rename_table("events", "events_old")
    if postgres:
        op.execute("ALTER SEQUENCE events_id_seq OWNED BY NONE")
    op.create_table(
        "events",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=False,
            server_default=sa.text("nextval('events_id_seq')") if postgres else None,
        ),
        sa.Column("occurred_at", newsletter.db.UTCDateTime(), nullable=False),
        sa.Column("delivery_id", sa.BigInteger(), nullable=True),
        sa.Column("campaign_id", sa.Integer(), nullable=True),
        sa.Column("variant_id", sa.Integer(), nullable=True),
        sa.Column("subscriber_id", sa.Integer(), nullable=True),
        sa.Column("source", sa.SmallInteger(), nullable=False),
        sa.Column("type", sa.SmallInteger(), nullable=False),
        sa.Column("machine", sa.Boolean(), nullable=False),
        sa.Column("event_id", sa.String(length=255), nullable=False),
        sa.Column("email_hash", sa.String(length=64), nullable=True),
        sa.Column("machine_reason", sa.String(length=20), nullable=True),
        sa.Column("bounce_type", sa.String(length=4), nullable=True),
        sa.Column("reason", sa.String(length=1000), nullable=True),
        sa.Column("smtp_status", sa.String(length=20), nullable=True),
        sa.Column("url", sa.String(length=2000), nullable=True),
        sa.Column("link_id", sa.String(length=20), nullable=True),
        sa.Column("brief_slug", sa.String(length=200), nullable=True),
        sa.Column("section", sa.String(length=20), nullable=True),
        sa.Column("narrative", sa.String(length=200), nullable=True),
        sa.CheckConstraint(
            "bounce_type IS NULL OR bounce_type IN ('hard', 'soft')", name=op.f("ck_events_bounce")
        ),
        sa.CheckConstraint("source IN (1, 2)", name=op.f("ck_events_source")),
        sa.CheckConstraint(
            f"type IN ({', '.join(str(c) for c in sorted(TYPE_CODES.values()))})",
            name=op.f("ck_events_type"),
        ),
        *(() if postgres else (sa.PrimaryKeyConstraint("id", name=op.f("pk_events")),)),
        sa.UniqueConstraint(
            "event_id", "source", "occurred_at", name=op.f("uq_events_event_id_source_occurred_at")
        ),
        postgresql_partition_by="RANGE (occurred_at)",
        sqlite_autoincrement=True,
    )
    if postgres:
        _create_partitions(_months_to_create())
    _create_indexes("type")
    op.create_table(
        "event_payloads",
        sa.Column(
            "event_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=False,
            nullable=False,
        ),
        sa.Column("received_at", newsletter.db.UTCDateTime(), nullable=False),
        sa.Column("user_agent", sa.String(length=500), nullable=True),
        sa.Column("raw", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("event_id", name=op.f("pk_event_payloads")),
    )
    op.execute(
        f"INSERT INTO events ({SHARED}, source, type, email_hash) SELECT {SHARED}, "
        f"{_case('source', SOURCE_CODES, to_code=True)}, {_case('type', TYPE_CODES, to_code=True)}, "
        "CASE WHEN subscriber_id IS NULL THEN email_hash END FROM events_old"
    )
    op.execute(
        "INSERT INTO event_payloads (event_id, received_at, user_agent, raw) "
        "SELECT id, received_at, user_agent, raw FROM events_old"
    )
    if not postgres:  # ids continue after the copied ones, never reused
        op.execute(
            "INSERT INTO sqlite_sequence (name, seq) SELECT 'events', max(id) FROM events_old "
            "WHERE EXISTS (SELECT 1 FROM events_old)"
        )
    op.drop_table("events_old")
    if postgres:
        op.execute("ALTER SEQUENCE events_id_seq OWNED BY events.id")


def downgrade() -> None:
    postgres = _postgres()
    _drop_indexes("events")
    op.rename_table("events", "events_new")
    if postgres:
        op.execute("ALTER SEQUENCE events_id_seq OWNED BY NONE")
        op.execute("ALTER SEQUENCE events_id_seq RENAME TO events_id_seq_new")
    op.create_table(
        "events",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("source", sa.String(length=12), nullable=False),
        sa.Column("event_id", sa.String(length=255), nullable=False),
        sa.Column("type", sa.String(length=12), nullable=False),
        sa.Column("occurred_at", newsletter.db.UTCDateTime(), nullable=False),
        sa.Column("received_at", newsletter.db.UTCDateTime(), nullable=False),
        sa.Column("delivery_id", sa.BigInteger(), nullable=True),
        sa.Column("campaign_id", sa.Integer(), nullable=True),
        sa.Column("variant_id", sa.Integer(), nullable=True),
        sa.Column("subscriber_id", sa.Integer(), nullable=True),
        sa.Column("email_hash", sa.String(length=64), nullable=True),
        sa.Column("machine", sa.Boolean(), nullable=False),
        sa.Column("machine_reason", sa.String(length=20), nullable=True),
        sa.Column("bounce_type", sa.String(length=4), nullable=True),
        sa.Column("reason", sa.String(length=1000), nullable=True),
        sa.Column("smtp_status", sa.String(length=20), nullable=True),
        sa.Column("url", sa.String(length=2000), nullable=True),
        sa.Column("link_id", sa.String(length=20), nullable=True),
        sa.Column("brief_slug", sa.String(length=200), nullable=True),
        sa.Column("section", sa.String(length=20), nullable=True),
        sa.Column("narrative", sa.String(length=200), nullable=True),
        sa.Column("user_agent", sa.String(length=500), nullable=True),
        sa.Column("raw", sa.JSON(), nullable=True),
        sa.CheckConstraint(
            "bounce_type IS NULL OR bounce_type IN ('hard', 'soft')", name=op.f("ck_events_bounce")
        ),
        sa.CheckConstraint("source IN ('sendgrid', 'first-party')", name=op.f("ck_events_source")),
        sa.CheckConstraint(
            f"type IN ({', '.join(repr(name) for name in TYPE_CODES if name != 'other')}, 'other')",
            name=op.f("ck_events_type"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_events")),
        sa.UniqueConstraint("source", "event_id", name=op.f("uq_events_source_event_id")),
    )
    _create_indexes("type")
    shared = ", ".join(f"e.{name.strip()}" for name in SHARED.split(","))
    op.execute(
        f"INSERT INTO events ({SHARED}, source, type, email_hash, received_at, user_agent, raw) "
        f"SELECT {shared}, {_case('e.source', SOURCE_CODES, to_code=False)}, "
        f"{_case('e.type', TYPE_CODES, to_code=False)}, coalesce(e.email_hash, s.email_hash), "
        "coalesce(p.received_at, e.occurred_at), p.user_agent, p.raw FROM events_new e "
        "LEFT JOIN event_payloads p ON p.event_id = e.id "
        "LEFT JOIN subscribers s ON s.id = e.subscriber_id"
    )
    op.drop_table("event_payloads")
    op.drop_table("events_new")  # with its partitions
    if postgres:
        op.execute("DROP SEQUENCE events_id_seq_new")
        op.execute(
            "SELECT setval('events_id_seq', coalesce((SELECT max(id) FROM events), 0) + 1, false)"
        )
