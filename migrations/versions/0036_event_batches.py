"""event payloads kept one row per batch (``event_batches``) instead of one per event

Revision ID: 0036
Revises: 0035
Create Date: 2026-12-03

A webhook batch of a thousand events wrote a thousand ``event_payloads`` rows (heap and key
entries, one ``COPY`` line each); ``event_batches`` keeps them as one row per batch and time
of arrival: ``[events.id, user agent, raw event]`` entries, with the lowest and highest
event id in it (``campaigns.payloads`` finds one event's entry through them). The existing
payloads move over, one batch per ``received_at`` (a batch's payloads share it). On
PostgreSQL the entries column is compressed with lz4 where the server has it (much cheaper
than pglz for a few hundred KB a batch). The downgrade puts one row per event back.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import newsletter.db

revision: str = "0036"
down_revision: str | None = "0035"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _postgres() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def upgrade() -> None:
    postgres = _postgres()
    op.create_table(
        "event_batches",
        sa.Column("id", ID, nullable=False),
        sa.Column("received_at", newsletter.db.UTCDateTime(), nullable=False),
        sa.Column("first_event", sa.BigInteger(), nullable=False),
        sa.Column("last_event", sa.BigInteger(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("events", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_event_batches")),
    )
    op.create_index("ix_event_batches_last_event", "event_batches", ["last_event"])
    if postgres:
        has_lz4 = op.get_bind().execute(
            sa.text(
                "SELECT 'lz4' = ANY(enumvals) FROM pg_settings "
                "WHERE name = 'default_toast_compression'"
            )
        )
        if has_lz4.scalar():
            op.execute("ALTER TABLE event_batches ALTER COLUMN events SET COMPRESSION lz4")
        entries = "json_agg(json_build_array(event_id, user_agent, raw) ORDER BY event_id)"
    else:
        entries = "json_group_array(json_array(event_id, user_agent, json(raw)))"
    op.execute(
        "INSERT INTO event_batches (received_at, first_event, last_event, size, events) "
        f"SELECT received_at, min(event_id), max(event_id), count(*), {entries} "
        "FROM event_payloads GROUP BY received_at ORDER BY min(event_id)"
    )
    op.drop_table("event_payloads")


def downgrade() -> None:
    op.create_table(
        "event_payloads",
        sa.Column("event_id", ID, autoincrement=False, nullable=False),
        sa.Column("received_at", newsletter.db.UTCDateTime(), nullable=False),
        sa.Column("user_agent", sa.String(length=500), nullable=True),
        sa.Column("raw", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("event_id", name=op.f("pk_event_payloads")),
    )
    if _postgres():
        op.execute(
            "INSERT INTO event_payloads (event_id, received_at, user_agent, raw) "
            "SELECT (e ->> 0)::bigint, b.received_at, e ->> 1, e -> 2 "
            "FROM event_batches b, json_array_elements(b.events) e"
        )
    else:
        op.execute(
            "INSERT INTO event_payloads (event_id, received_at, user_agent, raw) "
            "SELECT json_extract(e.value, '$[0]'), b.received_at, "
            "json_extract(e.value, '$[1]'), json_extract(e.value, '$[2]') "
            "FROM event_batches b, json_each(b.events) e"
        )
    op.drop_index("ix_event_batches_last_event", table_name="event_batches")
    op.drop_table("event_batches")
