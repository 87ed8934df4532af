"""Migration 0002 creates exactly the subscriber tables the models describe, and undoes them."""

from __future__ import annotations

from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import inspect

import newsletter.briefs.model  # noqa: F401  (every model on Base.metadata)
import subscribers.model  # noqa: F401
from newsletter.db import Base, Database
from newsletter.migrate import alembic_config
from tests.schema import schema_differences

TABLES = {"subscribers", "consent_records", "suppressions", "segments", "mail_queue"}


def test_migrations_match_the_models_including_subscribers(db: Database) -> None:
    assert set(Base.metadata.tables) >= TABLES
    assert schema_differences(db) == []


def test_downgrade_to_briefs_removes_the_subscriber_tables(db: Database) -> None:
    with db.engine.begin() as connection:
        command.downgrade(alembic_config(connection), "0001")
    assert not TABLES & set(inspect(db.engine).get_table_names())
    every = {r.revision for r in ScriptDirectory.from_config(alembic_config()).walk_revisions()}
    assert db.upgrade() == sorted(every - {"0001"})  # every one after 0001
    assert {"0002", "0006"} <= every
    assert set(inspect(db.engine).get_table_names()) >= TABLES
