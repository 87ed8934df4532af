"""Migration 0022 adds the api_keys table beside existing data (an editor, a brief's
subscriber) without touching it, on SQLite and PostgreSQL, matches the model, and undoes."""

from __future__ import annotations

from datetime import UTC, datetime

from alembic import command
from sqlalchemy import inspect, text

import newsletter.apikeys.model  # noqa: F401  (registers the table on Base.metadata)
from newsletter.apikeys.keys import create_key
from newsletter.db import Database
from newsletter.migrate import alembic_config
from tests.schema import schema_differences

NOW = datetime(2026, 12, 1, tzinfo=UTC)


def test_0022_adds_api_keys_beside_existing_rows_and_goes_back(db: Database) -> None:
    with db.engine.begin() as connection:
        command.downgrade(alembic_config(connection), "0021")
    assert "api_keys" not in inspect(db.engine).get_table_names()
    with db.engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO editors (email, password_hash, role, active, session_stamp,"
                " created_at) VALUES ('ann@example.org', 'x', 'admin', true, 's', :now)"
            ),
            {"now": NOW},
        )

    assert "0022" in db.upgrade()
    assert schema_differences(db) == []
    with db.engine.connect() as connection:
        assert connection.execute(text("SELECT email FROM editors")).scalar() == "ann@example.org"
    with db.transaction() as session:
        create_key(session, "cms", ["briefs:read"], created_by="ann@example.org", rate_limit=60)

    with db.engine.begin() as connection:
        command.downgrade(alembic_config(connection), "0021")
    assert "api_keys" not in inspect(db.engine).get_table_names()
    with db.engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM editors")).scalar() == 1
    db.upgrade()
