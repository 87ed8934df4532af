"""`newsletter db …`: explicit schema management (every command also upgrades on first use)."""

from __future__ import annotations

import typer

from newsletter.cli.common import console
from newsletter.config import get_settings
from newsletter.db import Database, make_engine
from newsletter.migrate import current_revisions, head_revisions

app = typer.Typer(help="Database schema management.", no_args_is_help=True)


@app.command("upgrade")
def upgrade_command() -> None:
    """Apply pending migrations to the configured database."""
    database = Database(make_engine(get_settings().database_url))
    applied = database.upgrade()
    with database.engine.connect() as connection:
        current = ", ".join(sorted(current_revisions(connection)))
    console.print(f"upgraded to {current}" if applied else f"already at {current}")


@app.command("status")
def status_command() -> None:
    """Show the schema revision of the database and of the code."""
    database = Database(make_engine(get_settings().database_url))
    with database.engine.connect() as connection:
        current = sorted(current_revisions(connection)) or ["(empty)"]
    console.print(f"database: {', '.join(current)}  code: {', '.join(sorted(head_revisions()))}")
