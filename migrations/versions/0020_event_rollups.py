"""event rollups

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-02

The report counters kept at ingest (:mod:`campaigns.rollups`): per delivery the bits of what
it has had, per variant its figures, per campaign reader clicks by brief, narrative and link
and machine events by reason, and which delivery clicked what. Filled from the events stored
so far with the rules the ingest applies (a reader's click proves an open; a machine open
counts only for a delivery no person opened or clicked; clicks on our own links count in no
click figure), so every report reads the same before and after.
"""

# ruff: noqa: S608  (the SQL is built from this module's constants only; values are bound)

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_FIGURES = (
    "delivered",
    "bounced",
    "hard_bounced",
    "soft_bounced",
    "dropped",
    "deferred",
    "clicked",
    "unsubscribed",
    "complained",
    "opened",
    "machine_opened",
    "opens",
    "clicks",
    "machine_clicks",
)
_READER_CLICK = (
    "type = 'clicked' AND NOT machine AND (section IS NULL"
    " OR section NOT IN ('masthead', 'toc', 'footer', 'confirm', 'keep'))"
)
# bit of delivery_rollups.flags: the condition on one event that sets it
_MARKS = (
    (1, "type = 'delivered'"),
    (2, "type = 'bounced'"),
    (4, "type = 'bounced' AND bounce_type = 'hard'"),
    (8, "type = 'bounced' AND bounce_type = 'soft'"),
    (16, "type = 'dropped'"),
    (32, "type = 'deferred'"),
    (64, "type = 'opened' AND NOT machine"),
    (128, "type = 'opened' AND machine"),
    (256, _READER_CLICK),
    (512, "type = 'unsubscribed'"),
    (1024, "type = 'complained'"),
)
# unique figure: the condition on a delivery's flags
_UNIQUE = {
    "delivered": "(flags & 1) <> 0",
    "bounced": "(flags & 2) <> 0",
    "hard_bounced": "(flags & 4) <> 0",
    "soft_bounced": "(flags & 8) <> 0",
    "dropped": "(flags & 16) <> 0",
    "deferred": "(flags & 32) <> 0",
    "clicked": "(flags & 256) <> 0",
    "unsubscribed": "(flags & 512) <> 0",
    "complained": "(flags & 1024) <> 0",
    "opened": "(flags & 320) <> 0",
    "machine_opened": "(flags & 128) <> 0 AND (flags & 320) = 0",
}
_TIED = "delivery_id IS NOT NULL AND variant_id IS NOT NULL"
# kind of tally: its key's columns and the condition on a reader's click
_CLICK_KEYS = {
    "brief": ("brief_slug", "brief_slug IS NOT NULL"),
    "narrative": (
        "brief_slug, narrative",
        "brief_slug IS NOT NULL AND narrative IS NOT NULL",
    ),
    "link": ("link_id", "link_id IS NOT NULL"),
    "url": ("url", "link_id IS NULL AND url IS NOT NULL"),
}
_CHUNK = 5000


def _key_hash(key: str) -> str:
    return hashlib.blake2b(key.encode(), digest_size=16).hexdigest()


def _count_column(name: str) -> sa.Column[int]:
    return sa.Column(name, sa.Integer(), nullable=False)


def upgrade() -> None:
    op.create_table(
        "delivery_rollups",
        sa.Column("delivery_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("variant_id", sa.Integer(), nullable=False),
        _count_column("flags"),
        sa.PrimaryKeyConstraint("delivery_id", name=op.f("pk_delivery_rollups")),
    )
    op.create_table(
        "variant_rollups",
        sa.Column("variant_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        *(_count_column(name) for name in _FIGURES),
        sa.PrimaryKeyConstraint("variant_id", name=op.f("pk_variant_rollups")),
    )
    op.create_index("ix_variant_rollups_campaign_id", "variant_rollups", ["campaign_id"])
    op.create_table(
        "campaign_tallies",
        sa.Column("campaign_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("key_hash", sa.String(length=32), nullable=False),
        sa.Column("key", sa.Text(), nullable=False),
        _count_column("total"),
        _count_column("readers"),
        sa.PrimaryKeyConstraint(
            "campaign_id", "kind", "key_hash", name=op.f("pk_campaign_tallies")
        ),
    )
    op.create_table(
        "delivery_clicks",
        sa.Column("delivery_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("key_hash", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("delivery_id", "kind", "key_hash", name=op.f("pk_delivery_clicks")),
    )
    op.create_table(
        "variant_deliveries",
        sa.Column("variant_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        _count_column("deliveries"),
        _count_column("resent"),
        sa.PrimaryKeyConstraint("variant_id", "status", name=op.f("pk_variant_deliveries")),
    )
    op.create_index("ix_variant_deliveries_campaign_id", "variant_deliveries", ["campaign_id"])
    connection = op.get_bind()
    _count_deliveries(connection)
    _fill_deliveries(connection)
    _fill_variants(connection)
    _fill_tallies(connection)


_UPSERT_COUNTS = (
    "INSERT INTO variant_deliveries (variant_id, status, campaign_id, deliveries, resent)"
    " {rows} ON CONFLICT (variant_id, status) DO UPDATE SET"
    " deliveries = variant_deliveries.deliveries + excluded.deliveries,"
    " resent = variant_deliveries.resent + excluded.resent"
)
_RESENT = "CASE WHEN resent_after_unknown_at IS NULL THEN 0 ELSE 1 END"
# PostgreSQL: one trigger per statement, the changed rows' counts netted per variant and status
_POSTGRES_FUNCTION = """
CREATE FUNCTION count_variant_deliveries() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  IF TG_OP = 'INSERT' THEN
    {insert}
  ELSIF TG_OP = 'DELETE' THEN
    {delete}
  ELSE
    {update}
  END IF;
  RETURN NULL;
END
$fn$
"""
_NET = (
    "SELECT variant_id, status, MIN(campaign_id), SUM(n), SUM(r) FROM ({parts}) AS changed"
    " GROUP BY variant_id, status HAVING SUM(n) <> 0 OR SUM(r) <> 0 ORDER BY variant_id, status"
)
_PART = "SELECT variant_id, status, campaign_id, {sign} AS n, {sign} * {resent} AS r FROM {table}"
_POSTGRES_TRIGGERS = {
    "INSERT": "REFERENCING NEW TABLE AS new_rows",
    "UPDATE": "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows",
    "DELETE": "REFERENCING OLD TABLE AS old_rows",
}
# SQLite: one trigger per row
_SQLITE_ROW = (
    "VALUES ({row}.variant_id, {row}.status, {row}.campaign_id, {sign},"
    " {sign} * (CASE WHEN {row}.resent_after_unknown_at IS NULL THEN 0 ELSE 1 END))"
)
# A deleted delivery (its subscriber erased) takes its marks along: SQLite may give its id
# to the next delivery inserted.
_FORGET = (
    " DELETE FROM delivery_rollups WHERE delivery_id IN ({ids});"
    " DELETE FROM delivery_clicks WHERE delivery_id IN ({ids});"
)
_SQLITE_TRIGGERS = {
    "INSERT": ("AFTER INSERT", ["NEW"]),
    "UPDATE": ("AFTER UPDATE OF variant_id, status, resent_after_unknown_at", ["OLD", "NEW"]),
    "DELETE": ("AFTER DELETE", ["OLD"]),
}


def _postgres_statement(tables: list[tuple[str, int]]) -> str:
    parts = " UNION ALL ".join(
        _PART.format(sign=sign, resent=_RESENT, table=table) for table, sign in tables
    )
    return _UPSERT_COUNTS.format(rows=_NET.format(parts=parts)) + ";"


def _count_deliveries(connection: sa.Connection) -> None:
    """Count the deliveries there are, then keep the counts with triggers."""
    rows = (
        f"SELECT variant_id, status, MIN(campaign_id), COUNT(*), SUM({_RESENT}) FROM deliveries"
        " GROUP BY variant_id, status"
    )
    connection.execute(sa.text(_UPSERT_COUNTS.format(rows=rows)))
    if connection.dialect.name == "postgresql":
        old, new = ("old_rows", -1), ("new_rows", 1)
        function = _POSTGRES_FUNCTION.format(
            insert=_postgres_statement([new]),
            delete=_postgres_statement([old]) + _FORGET.format(ids="SELECT id FROM old_rows"),
            update=_postgres_statement([old, new]),
        )
        connection.execute(sa.text(function))
        for event, tables in _POSTGRES_TRIGGERS.items():
            connection.execute(
                sa.text(
                    f"CREATE TRIGGER deliveries_count_{event.lower()} AFTER {event} ON deliveries"
                    f" {tables} FOR EACH STATEMENT EXECUTE FUNCTION count_variant_deliveries()"
                )
            )
        return
    for event, (when, rows_of) in _SQLITE_TRIGGERS.items():
        body = " ".join(
            _UPSERT_COUNTS.format(rows=_SQLITE_ROW.format(row=row, sign=-1 if row == "OLD" else 1))
            + ";"
            for row in rows_of
        )
        if event == "DELETE":
            body += _FORGET.format(ids="OLD.id")
        connection.execute(
            sa.text(
                f"CREATE TRIGGER deliveries_count_{event.lower()} {when} ON deliveries"
                f" FOR EACH ROW BEGIN {body} END"
            )
        )


def _fill_deliveries(connection: sa.Connection) -> None:
    flags = " + ".join(f"MAX(CASE WHEN {when} THEN {bit} ELSE 0 END)" for bit, when in _MARKS)
    connection.execute(
        sa.text(
            "INSERT INTO delivery_rollups (delivery_id, campaign_id, variant_id, flags)"
            f" SELECT delivery_id, MIN(campaign_id), MIN(variant_id), {flags}"
            f" FROM events WHERE {_TIED} GROUP BY delivery_id"
        )
    )


def _fill_variants(connection: sa.Connection) -> None:
    uniques = ", ".join(f"SUM(CASE WHEN {when} THEN 1 ELSE 0 END)" for when in _UNIQUE.values())
    found: dict[int, dict[str, int]] = {}
    for variant_id, campaign_id, *values in connection.execute(
        sa.text(
            f"SELECT variant_id, MIN(campaign_id), {uniques} FROM delivery_rollups"
            " GROUP BY variant_id"
        )
    ):
        row = dict.fromkeys(_FIGURES, 0) | dict(zip(_UNIQUE, map(int, values), strict=True))
        found[variant_id] = row | {"variant_id": variant_id, "campaign_id": campaign_id}
    totals = connection.execute(
        sa.text(
            "SELECT variant_id,"
            " SUM(CASE WHEN type = 'opened' AND NOT machine THEN 1 ELSE 0 END),"
            f" SUM(CASE WHEN {_READER_CLICK} THEN 1 ELSE 0 END),"
            " SUM(CASE WHEN type = 'clicked' AND machine THEN 1 ELSE 0 END)"
            f" FROM events WHERE {_TIED} GROUP BY variant_id"
        )
    )
    for variant_id, opens, clicks, machine_clicks in totals:
        if variant_id in found:  # every tied event's delivery has a row, so its variant too
            found[variant_id].update(
                opens=int(opens), clicks=int(clicks), machine_clicks=int(machine_clicks)
            )
    if found:
        names = ("variant_id", "campaign_id", *_FIGURES)
        connection.execute(
            sa.text(
                f"INSERT INTO variant_rollups ({', '.join(names)})"
                f" VALUES ({', '.join(':' + name for name in names)})"
            ),
            list(found.values()),
        )


def _fill_tallies(connection: sa.Connection) -> None:
    rows: list[dict[str, object]] = []
    for kind, (columns, where) in _CLICK_KEYS.items():
        for campaign_id, key, total, readers in connection.execute(
            sa.text(
                f"SELECT campaign_id, {_joined(columns)}, COUNT(*), COUNT(DISTINCT delivery_id)"
                f" FROM events WHERE {_TIED} AND {_READER_CLICK} AND {where}"
                f" GROUP BY campaign_id, {columns}"
            )
        ):
            rows.append(_tally(campaign_id, kind, key, total, readers))
        _fill_clicks(connection, kind, columns, where)
    for campaign_id, kind, reason, total in connection.execute(
        sa.text(
            "SELECT campaign_id, type, machine_reason, COUNT(*) FROM events"
            f" WHERE {_TIED} AND machine AND type IN ('opened', 'clicked')"
            " GROUP BY campaign_id, type, machine_reason"
        )
    ):
        rows.append(_tally(campaign_id, "machine", f"{kind}:{reason}", total, 0))
    if rows:
        connection.execute(
            sa.text(
                "INSERT INTO campaign_tallies (campaign_id, kind, key_hash, key, total, readers)"
                " VALUES (:campaign_id, :kind, :key_hash, :key, :total, :readers)"
            ),
            rows,
        )


def _joined(columns: str) -> str:
    """The key of a tally as one text (a narrative's: its brief's slug, 0x1f, its label)."""
    if "," not in columns:
        return columns
    separator = "chr(31)" if op.get_bind().dialect.name == "postgresql" else "char(31)"
    return f" || {separator} || ".join(c.strip() for c in columns.split(","))


def _tally(campaign_id: int, kind: str, key: str, total: int, readers: int) -> dict[str, object]:
    return {
        "campaign_id": campaign_id,
        "kind": kind,
        "key_hash": _key_hash(str(key)),
        "key": str(key),
        "total": int(total),
        "readers": int(readers),
    }


def _fill_clicks(connection: sa.Connection, kind: str, columns: str, where: str) -> None:
    found = connection.execute(
        sa.text(
            f"SELECT DISTINCT delivery_id, {_joined(columns)} FROM events"
            f" WHERE {_TIED} AND {_READER_CLICK} AND {where}"
        )
    ).all()
    insert = sa.text(
        "INSERT INTO delivery_clicks (delivery_id, kind, key_hash) VALUES (:d, :kind, :h)"
    )
    for start in range(0, len(found), _CHUNK):
        chunk = found[start : start + _CHUNK]
        rows = [{"d": d, "kind": kind, "h": _key_hash(str(key))} for d, key in chunk]
        connection.execute(insert, rows)


def downgrade() -> None:
    for event in _POSTGRES_TRIGGERS:
        op.execute(
            f"DROP TRIGGER IF EXISTS deliveries_count_{event.lower()} ON deliveries"
            if op.get_bind().dialect.name == "postgresql"
            else f"DROP TRIGGER IF EXISTS deliveries_count_{event.lower()}"
        )
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS count_variant_deliveries()")
    op.drop_index("ix_variant_deliveries_campaign_id", table_name="variant_deliveries")
    op.drop_table("variant_deliveries")
    op.drop_table("delivery_clicks")
    op.drop_table("campaign_tallies")
    op.drop_index("ix_variant_rollups_campaign_id", table_name="variant_rollups")
    op.drop_table("variant_rollups")
    op.drop_table("delivery_rollups")
