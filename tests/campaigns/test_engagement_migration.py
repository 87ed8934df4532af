"""Migration 0024 fills each reader's last open and click from the events already stored
(human opens and clicks on content only), on SQLite and PostgreSQL, and undoes it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from alembic import command
from sqlalchemy import Connection, inspect, select, text

from campaigns.events import SubscriberEngagement
from newsletter.db import Database
from newsletter.migrate import alembic_config

NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)


def _subscriber(connection: Connection, subscriber_id: int) -> None:
    connection.execute(
        text(
            "INSERT INTO subscribers (id, uid, email, email_key, email_hash, status, topics,"
            " narratives, attributes, created_at) VALUES (:id, :uid, :email, :email, :hash,"
            " 'active', '[]', 'all', '{}', :now)"
        ),
        {
            "id": subscriber_id,
            "uid": f"u{subscriber_id}",
            "email": f"r{subscriber_id}@example.org",
            "hash": f"h{subscriber_id}",
            "now": NOW,
        },
    )


def _event(
    connection: Connection,
    n: int,
    subscriber_id: int | None,
    kind: str,
    days_ago: int,
    *,
    machine: bool = False,
    section: str | None = None,
) -> None:
    connection.execute(
        text(
            "INSERT INTO events (source, event_id, type, occurred_at, received_at,"
            " subscriber_id, machine, section) VALUES ('sendgrid', :event_id, :type, :at, :now,"
            " :subscriber_id, :machine, :section)"
        ),
        {
            "event_id": f"e{n}",
            "type": kind,
            "at": NOW - timedelta(days=days_ago),
            "now": NOW,
            "subscriber_id": subscriber_id,
            "machine": machine,
            "section": section,
        },
    )


def test_0024_fills_the_last_open_and_click_from_stored_events(db: Database) -> None:
    with db.engine.begin() as connection:
        command.downgrade(alembic_config(connection), "0020")
    assert "subscriber_engagement" not in inspect(db.engine).get_table_names()
    with db.engine.begin() as connection:
        for subscriber_id in (1, 2, 3, 4):
            _subscriber(connection, subscriber_id)
        _event(connection, 1, 1, "opened", 10)
        _event(connection, 2, 1, "opened", 3)  # the later open wins
        _event(connection, 3, 1, "opened", 1, machine=True)  # Apple's prefetch: no open
        _event(connection, 4, 2, "clicked", 5, section="brief")  # a click is an open too
        _event(connection, 5, 2, "opened", 8)
        _event(connection, 6, 3, "clicked", 2, section="footer")  # unsubscribe: no click
        _event(connection, 7, 3, "delivered", 1)
        _event(connection, 8, None, "opened", 1)  # tied to nobody
        _event(connection, 9, 4, "clicked", 4, machine=True)  # a link scanner

    assert "0024" in db.upgrade()
    with db.transaction() as session:
        rows = {
            row.subscriber_id: (row.last_opened_at, row.last_clicked_at)
            for row in session.scalars(select(SubscriberEngagement))
        }
    assert rows == {
        1: (NOW - timedelta(days=3), None),
        2: (NOW - timedelta(days=5), NOW - timedelta(days=5)),
    }

    with db.engine.begin() as connection:
        command.downgrade(alembic_config(connection), "0020")
    assert "subscriber_engagement" not in inspect(db.engine).get_table_names()
    with db.engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM events")).scalar() == 9
    db.upgrade()
