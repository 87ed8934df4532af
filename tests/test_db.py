"""The storage layer: migrations equal the models, times stay UTC, bad URLs are explained."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import select

import newsletter.briefs.model  # noqa: F401
from newsletter.briefs.model import BriefRow
from newsletter.db import Database, open_database
from newsletter.errors import ConfigurationError
from newsletter.migrate import current_revisions, head_revisions
from tests.schema import schema_differences


def test_migrations_produce_exactly_the_models(db: Database) -> None:
    assert schema_differences(db) == []
    with db.engine.connect() as connection:
        assert current_revisions(connection) == head_revisions()


def test_upgrade_is_idempotent(db: Database) -> None:
    assert db.upgrade() == []


def test_times_are_stored_and_returned_as_utc(db: Database) -> None:
    plus_two = datetime(2026, 11, 25, 12, 0, tzinfo=timezone(timedelta(hours=2)))
    with db.transaction() as session:
        row = BriefRow(
            slug="t",
            title="T",
            updated=plus_two.date(),
            topics=[],
            status="ready",
            ready_at=plus_two,
        )
        session.add(row)
    with db.transaction() as session:
        stored = session.scalar(select(BriefRow))
        assert stored is not None and stored.ready_at is not None
        assert stored.ready_at == plus_two
        assert stored.ready_at.tzinfo is not None
        assert stored.ready_at.utcoffset() == timedelta(0)
        assert stored.created_at.tzinfo == UTC


def test_naive_datetimes_are_refused(db: Database) -> None:
    with pytest.raises(Exception, match="naive datetime"), db.transaction() as session:
        session.add(
            BriefRow(
                slug="n",
                title="N",
                updated=datetime(2026, 1, 1).date(),
                topics=[],
                status="ready",
                ready_at=datetime(2026, 1, 1),
            )
        )


def test_bad_database_urls_are_configuration_errors(tmp_path: object) -> None:
    with pytest.raises(ConfigurationError, match="not a database URL"):
        open_database("not a url")
    with pytest.raises(ConfigurationError, match="unsupported database 'mysql'"):
        open_database("mysql://localhost/x")
    with pytest.raises(ConfigurationError, match="cannot open the database"):
        open_database("postgresql+psycopg://nobody@127.0.0.1:1/none")
