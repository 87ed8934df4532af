"""Migration 0014 adds the sunset columns in place and lets the mail queue hold 'keep' mails,
with data in both tables, on SQLite and PostgreSQL, and undoes it."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from alembic import command
from sqlalchemy import inspect, text
from sqlalchemy.exc import IntegrityError

from newsletter.db import Database
from newsletter.migrate import alembic_config

NOW = datetime(2026, 12, 1, tzinfo=UTC)


def _seed(db: Database) -> None:
    with db.engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO subscribers (id, uid, email, email_key, email_hash, status, topics,"
                " narratives, attributes, created_at) VALUES (1, 'u1', 'a@example.org',"
                " 'a@example.org', 'h1', 'active', '[]', 'all', '{}', :now)"
            ),
            {"now": NOW},
        )
        connection.execute(
            text(
                "INSERT INTO consent_records (subscriber_id, kind, at, form)"
                " VALUES (1, 'add', :now, '{}')"
            ),
            {"now": NOW},
        )
        connection.execute(
            text(
                "INSERT INTO mail_queue (kind, subscriber_id, status, attempts, created_at,"
                " available_at) VALUES ('confirmation', 1, 'sent', 1, :now, :now)"
            ),
            {"now": NOW},
        )


def _queue(db: Database, kind: str, status: str = "queued") -> None:
    with db.engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO mail_queue (kind, subscriber_id, status, attempts, created_at,"
                " available_at) VALUES (:kind, 1, :status, 0, :now, :now)"
            ),
            {"kind": kind, "status": status, "now": NOW},
        )


def _count(db: Database, table: str) -> int:
    with db.engine.connect() as connection:
        return int(connection.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())


def test_0014_upgrade_and_downgrade_keep_the_rows(db: Database) -> None:
    with db.engine.begin() as connection:
        command.downgrade(alembic_config(connection), "0013")
    columns = {c["name"] for c in inspect(db.engine).get_columns("subscribers")}
    assert "lapsed_at" not in columns
    _seed(db)
    with pytest.raises(IntegrityError):
        _queue(db, "keep")  # the old check refuses the new kind

    assert "0014" in db.upgrade()
    columns = {c["name"] for c in inspect(db.engine).get_columns("subscribers")}
    assert {"reengage_sent_at", "lapsed_at", "kept_at"} <= columns
    assert (_count(db, "subscribers"), _count(db, "consent_records")) == (1, 1)
    assert _count(db, "mail_queue") == 1  # the copied queue kept its row
    _queue(db, "keep")
    with pytest.raises(IntegrityError):
        _queue(db, "newsletter")  # still checked
    with pytest.raises(IntegrityError):
        _queue(db, "keep", status="lost")  # and so is the status, through the copy
    indexes = {i["name"] for i in inspect(db.engine).get_indexes("mail_queue")}
    assert {"ix_mail_queue_status_available_at", "ix_mail_queue_subscriber_id"} <= indexes
    with db.engine.begin() as connection:  # the queue still cascades with its subscriber
        foreign = inspect(connection).get_foreign_keys("mail_queue")
    assert [f["options"].get("ondelete") for f in foreign] == ["CASCADE"]

    with db.engine.begin() as connection:
        command.downgrade(alembic_config(connection), "0013")
    assert _count(db, "mail_queue") == 1  # the keep mail is gone, the confirmation stays
    assert _count(db, "subscribers") == 1
    columns = {c["name"] for c in inspect(db.engine).get_columns("subscribers")}
    assert "kept_at" not in columns
