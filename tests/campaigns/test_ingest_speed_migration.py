"""Migration 0035 drops the events index by campaign and type with events in the table, on
SQLite and PostgreSQL (every partition's index with it), matches the model, and undoes."""

from __future__ import annotations

from datetime import UTC, datetime

from alembic import command
from sqlalchemy import Engine, func, insert, inspect, select, text

from campaigns.events import Event
from newsletter.db import Database
from newsletter.migrate import alembic_config
from tests.schema import schema_differences

INDEX = "ix_events_campaign_type"
AT = datetime(2026, 11, 3, 10, 30, tzinfo=UTC)


def _index_names(engine: Engine) -> set[str]:
    """Index names on ``events`` and, on PostgreSQL, on any of its partitions."""
    if engine.dialect.name != "postgresql":
        return {index["name"] or "" for index in inspect(engine).get_indexes("events")}
    with engine.connect() as connection:
        rows = connection.execute(
            text(
                "SELECT i.relname FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid "
                "WHERE x.indrelid = 'events'::regclass OR x.indrelid IN "
                "(SELECT inhrelid FROM pg_inherits WHERE inhparent = 'events'::regclass)"
            )
        )
        return {name for (name,) in rows}


def test_0035_drops_the_campaign_index_keeps_events_and_goes_back(db: Database) -> None:
    with db.engine.begin() as connection:
        command.downgrade(alembic_config(connection), "0030")
    assert INDEX in _index_names(db.engine)
    with db.engine.begin() as connection:
        connection.execute(
            insert(Event),
            [
                {"source": "sendgrid", "event_id": f"sg-{i}", "type": "delivered",
                 "occurred_at": AT, "campaign_id": 7, "delivery_id": i, "subscriber_id": i}
                for i in range(1, 4)
            ],
        )  # fmt: skip

    assert "0035" in db.upgrade()
    names = _index_names(db.engine)
    assert not any(name.startswith(INDEX) or "campaign_id_type" in name for name in names), names
    assert "ix_events_subscriber_type_occurred" in names
    assert schema_differences(db) == []
    with db.engine.connect() as connection:
        assert connection.execute(select(func.count()).select_from(Event)).scalar() == 3

    with db.engine.begin() as connection:
        command.downgrade(alembic_config(connection), "0030")
    assert INDEX in _index_names(db.engine)
    db.upgrade()
    assert INDEX not in _index_names(db.engine)
