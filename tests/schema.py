"""What migration tests check after an upgrade: the schema is the one the models describe."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from newsletter.db import Base, Database
from newsletter.migrate import comparison_options


def schema_differences(db: Database) -> list[Any]:
    """Alembic's comparison of the database with the models, as the project runs it
    (``comparison_options``): empty when the migrations made what the models say."""
    with db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts=comparison_options(connection))
        return list(compare_metadata(context, Base.metadata))
