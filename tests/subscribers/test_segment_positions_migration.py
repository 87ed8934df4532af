"""Migration 0018 gives segments a position (numbered in their former, name order) in place,
with segments and a campaign that targets one, on SQLite and PostgreSQL, and undoes it."""

from __future__ import annotations

from datetime import UTC, datetime

from alembic import command
from sqlalchemy import inspect, text

from newsletter.db import Database
from newsletter.migrate import alembic_config

NOW = datetime(2026, 12, 1, tzinfo=UTC)


def _columns(db: Database) -> set[str]:
    return {c["name"] for c in inspect(db.engine).get_columns("segments")}


def test_0018_numbers_segments_and_goes_back(db: Database) -> None:
    with db.engine.begin() as connection:
        command.downgrade(alembic_config(connection), "0017")
    assert "position" not in _columns(db)
    with db.engine.begin() as connection:
        for segment_id, name in ((1, "zeta"), (2, "alpha"), (3, "mid")):
            connection.execute(
                text(
                    "INSERT INTO segments (id, name, rule, options, created_at, modified_at)"
                    " VALUES (:id, :name, '{\"type\": \"everyone\"}', '{}', :now, :now)"
                ),
                {"id": segment_id, "name": name, "now": NOW},
            )
        connection.execute(
            text(
                "INSERT INTO campaigns (id, name, kind, issue_date, status, created_at)"
                " VALUES (1, 'Issue', 'manual', '2026-12-01', 'draft', :now)"
            ),
            {"now": NOW},
        )
        connection.execute(
            text(
                "INSERT INTO campaign_segments (campaign_id, position, segment_id) VALUES (1, 0, 1)"
            )
        )

    assert "0018" in db.upgrade()
    with db.engine.connect() as connection:
        rows = connection.execute(text("SELECT name, position FROM segments ORDER BY position"))
        assert rows.all() == [("alpha", 1), ("mid", 2), ("zeta", 3)]
        assert connection.execute(text("SELECT segment_id FROM campaign_segments")).scalar() == 1

    with db.engine.begin() as connection:
        command.downgrade(alembic_config(connection), "0017")
    assert "position" not in _columns(db)
    with db.engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM segments")).scalar() == 3
        assert connection.execute(text("SELECT count(*) FROM campaign_segments")).scalar() == 1
    db.upgrade()
