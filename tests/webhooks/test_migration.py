"""Migration 0034 adds the webhook tables to a database with data, matches the model, and
goes back, on SQLite and PostgreSQL."""

from __future__ import annotations

from alembic import command
from sqlalchemy import func, inspect, select

from newsletter.db import Database
from newsletter.migrate import alembic_config
from newsletter.webhooks.model import EventType, WebhookMessage
from newsletter.webhooks.queue import queue_event
from subscribers.model import Subscriber
from tests.schema import schema_differences
from tests.subscribers.conftest import add_subscriber
from tests.webhooks.conftest import register

TABLES = {"webhook_endpoints", "webhook_messages"}


def _tables(db: Database) -> set[str]:
    return set(inspect(db.engine).get_table_names()) & TABLES


def test_0034_upgrades_a_database_with_data_and_goes_back(db: Database) -> None:
    with db.transaction() as session:
        add_subscriber(session, "ann@example.org")
    with db.engine.begin() as connection:
        command.downgrade(alembic_config(connection), "0030")
    assert _tables(db) == set()

    assert "0034" in db.upgrade()
    assert _tables(db) == TABLES
    assert schema_differences(db) == []
    register(db, "http://127.0.0.1:9/hooks")
    with db.transaction() as session:
        assert queue_event(session, EventType.CAMPAIGN_SENT, {"campaign_id": 1}) == 1
        assert session.scalar(select(func.count()).select_from(Subscriber)) == 1

    with db.engine.begin() as connection:
        command.downgrade(alembic_config(connection), "0030")
    assert _tables(db) == set()
    with db.transaction() as session:
        assert session.scalar(select(func.count()).select_from(Subscriber)) == 1
    db.upgrade()
    with db.transaction() as session:
        assert session.scalar(select(func.count()).select_from(WebhookMessage)) == 0
