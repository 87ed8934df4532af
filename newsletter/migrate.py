"""Alembic, driven from code: find the migration scripts and apply the pending ones safely."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, text

from newsletter.resources import data_path


def alembic_config(connection: Connection | None = None) -> Config:
    """An Alembic configuration pointing at the shipped ``migrations`` folder."""
    config = Config()
    config.set_main_option("script_location", str(data_path("migrations")))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def head_revisions() -> set[str]:
    return set(ScriptDirectory.from_config(alembic_config()).get_heads())


def current_revisions(connection: Connection) -> set[str]:
    return set(MigrationContext.configure(connection).get_current_heads())


def upgrade(engine: Engine, *, lock_key: int) -> list[str]:
    """Upgrade to head unless already there; on PostgreSQL under an advisory lock.

    Returns every revision applied, oldest first (empty when the schema was current).

    The quick check first keeps every command's start-up cheap once the schema is current.
    """
    heads = head_revisions()
    with engine.connect() as connection:
        if current_revisions(connection) == heads:
            return []
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": lock_key})
        before = current_revisions(connection)
        if before == heads:
            return []
        command.upgrade(alembic_config(connection), "head")
        after = current_revisions(connection)
    return sorted(_lineage(after) - _lineage(before))


def _lineage(heads: set[str]) -> set[str]:
    """Every revision up to and including ``heads`` (what a database at ``heads`` has)."""
    if not heads:
        return set()
    script = ScriptDirectory.from_config(alembic_config())
    return {revision.revision for revision in script.iterate_revisions(tuple(heads), "base")}


def comparison_options(connection: Connection) -> dict[str, Any]:
    """Options of a :class:`MigrationContext` that compares the schema with the models:
    types compared, and the partitions of a partitioned table (PostgreSQL) left out: they
    are the table's storage, made and dropped as time passes, not tables of the models."""
    partitions = _partitions(connection)

    def include_name(name: str | None, kind: str, parent: Mapping[str, str | None]) -> bool:
        table = name if kind == "table" else parent.get("table_name")
        return table not in partitions

    return {"compare_type": True, "include_name": include_name}


def _partitions(connection: Connection) -> set[str]:
    if connection.dialect.name != "postgresql":
        return set()
    rows = connection.execute(
        text(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE c.relispartition AND c.relnamespace = current_schema()::regnamespace"
        )
    )
    return set(rows.scalars())
