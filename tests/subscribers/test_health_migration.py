"""Migration 0017 adds the two indexes the list-health history counts lapsed readers with,
keeping every row, on SQLite and PostgreSQL, and takes them away again."""

from __future__ import annotations

from alembic import command
from sqlalchemy import inspect, text

from newsletter.db import Database
from newsletter.migrate import alembic_config
from tests.subscribers.test_sunset_migration import NOW, _count

INDEXES = {
    "subscribers": "ix_subscribers_lapsed_at",
    "consent_records": "ix_consent_records_kind_at",
}


def _indexes(db: Database, table: str) -> set[str]:
    return {i["name"] for i in inspect(db.engine).get_indexes(table) if i["name"]}


def _seed(db: Database) -> None:
    with db.engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO subscribers (id, uid, email, email_key, email_hash, status, topics,"
                " narratives, attributes, created_at, lapsed_at) VALUES (1, 'u1',"
                " 'a@example.org', 'a@example.org', 'h1', 'active', '[]', 'all', '{}', :now,"
                " :now)"
            ),
            {"now": NOW},
        )
        connection.execute(
            text(
                "INSERT INTO consent_records (subscriber_id, kind, at, form)"
                " VALUES (1, 'confirm', :now, '{\"revived\": \"click\"}')"
            ),
            {"now": NOW},
        )


def test_0017_adds_and_drops_the_indexes_and_keeps_the_rows(db: Database) -> None:
    with db.engine.begin() as connection:
        command.downgrade(alembic_config(connection), "0016")
    for table, index in INDEXES.items():
        assert index not in _indexes(db, table)
    _seed(db)

    assert "0017" in db.upgrade()
    for table, index in INDEXES.items():
        assert index in _indexes(db, table)
    assert (_count(db, "subscribers"), _count(db, "consent_records")) == (1, 1)
    assert "ix_consent_records_subscriber_id" in _indexes(db, "consent_records")

    with db.engine.begin() as connection:
        command.downgrade(alembic_config(connection), "0016")
    for table, index in INDEXES.items():
        assert index not in _indexes(db, table)
    assert (_count(db, "subscribers"), _count(db, "consent_records")) == (1, 1)
    assert "0017" in db.upgrade()  # and up again, over the same rows
