"""Migration 0030 gives existing keys a full allowance, matches the model, and undoes, on
SQLite and PostgreSQL."""

from __future__ import annotations

from alembic import command
from sqlalchemy import inspect, text

import newsletter.apikeys.model  # noqa: F401  (registers the table on Base.metadata)
from newsletter.apikeys.keys import check_key, create_key
from newsletter.db import Database
from newsletter.migrate import alembic_config
from tests.schema import schema_differences


def _columns(db: Database) -> set[str]:
    return {column["name"] for column in inspect(db.engine).get_columns("api_keys")}


def test_0030_keeps_existing_keys_usable_and_goes_back(db: Database) -> None:
    with db.transaction() as session:
        key = create_key(session, "cms", ["briefs:read"], created_by="t", rate_limit=2).secret
    with db.engine.begin() as connection:
        command.downgrade(alembic_config(connection), "0022")
    assert "allowance_used_until" not in _columns(db)

    assert "0030" in db.upgrade()
    assert schema_differences(db) == []
    with db.engine.connect() as connection:
        used = connection.execute(text("SELECT allowance_used_until FROM api_keys")).scalar()
        assert used == 0
    with db.transaction() as session:
        checks = [check_key(session, key).retry_after for _ in range(3)]
    assert checks[:2] == [None, None] and checks[2] is not None

    with db.engine.begin() as connection:
        command.downgrade(alembic_config(connection), "0022")
    assert "allowance_used_until" not in _columns(db)
    with db.engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM api_keys")).scalar() == 1
    db.upgrade()
