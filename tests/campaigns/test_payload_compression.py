"""Migration 0041: event batches' payload documents are compressed with lz4 on PostgreSQL
(where the server has it, as this one does), and read back as they went in; undone by its
downgrade. SQLite has no such setting."""

from __future__ import annotations

import pytest
from alembic import command
from sqlalchemy import text

from campaigns.events import EventRecord
from campaigns.payloads import payloads_of, store_payloads
from newsletter.db import Database, utcnow
from newsletter.migrate import alembic_config

_COMPRESSION = text(
    "SELECT attcompression FROM pg_attribute "
    "WHERE attrelid = 'event_batches'::regclass AND attname = 'events'"
)


def _compression(db: Database) -> str:
    with db.engine.connect() as connection:
        return str(connection.execute(_COMPRESSION).scalar_one())


def test_0041_compresses_payloads_with_lz4_and_goes_back(db: Database) -> None:
    if db.engine.dialect.name != "postgresql":
        pytest.skip("SQLite's tables have no compression setting")
    assert _compression(db) == "l"
    now = utcnow()
    raw = {"event": "open", "email": "reader@example.org", "note": "x" * 50_000}
    record = EventRecord("sendgrid", "e-1", "opened", now, now, user_agent="UA", raw=raw)
    with db.transaction() as session:
        store_payloads(session.connection(), [(7, record)])
    with db.transaction() as session:
        stored = payloads_of(session.connection(), [7])[7]
    assert (stored.user_agent, stored.raw) == ("UA", raw)
    with db.engine.connect() as connection:
        method = connection.execute(text("SELECT pg_column_compression(events) FROM event_batches"))
        assert method.scalar_one() == "lz4"

    with db.engine.begin() as connection:
        command.downgrade(alembic_config(connection), "0040")
    assert _compression(db) == ""
    db.upgrade()
    assert _compression(db) == "l"
