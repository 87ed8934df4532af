"""Migration 0037 adds ``delivery_rollups.prev_flags`` with the rows kept (0 for each), on
SQLite and PostgreSQL, matches the model, and undoes."""

from __future__ import annotations

from alembic import command
from sqlalchemy import inspect, text

from newsletter.db import Database
from newsletter.migrate import alembic_config
from tests.schema import schema_differences


def _columns(db: Database) -> set[str]:
    return {column["name"] for column in inspect(db.engine).get_columns("delivery_rollups")}


def test_0037_adds_prev_flags_keeps_rows_and_goes_back(db: Database) -> None:
    with db.engine.begin() as connection:
        command.downgrade(alembic_config(connection), "0036")
    assert "prev_flags" not in _columns(db)
    with db.engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO delivery_rollups (delivery_id, campaign_id, variant_id, flags) "
                "VALUES (1, 7, 8, 5), (2, 7, 8, 64)"
            )
        )

    assert "0037" in db.upgrade()
    assert schema_differences(db) == []
    with db.engine.connect() as connection:
        rows = connection.execute(
            text("SELECT delivery_id, flags, prev_flags FROM delivery_rollups ORDER BY 1")
        ).all()
    assert [tuple(row) for row in rows] == [(1, 5, 0), (2, 64, 0)]

    with db.engine.begin() as connection:
        command.downgrade(alembic_config(connection), "0036")
    assert "prev_flags" not in _columns(db)
    with db.engine.connect() as connection:
        flags = connection.execute(text("SELECT flags FROM delivery_rollups ORDER BY 1")).all()
    assert [row[0] for row in flags] == [5, 64]
    db.upgrade()
    assert "prev_flags" in _columns(db)
