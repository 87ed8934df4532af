"""What every command shares: the consoles, the database, and one-line error reporting."""

from __future__ import annotations

import sys
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console
from typer._click.core import Context  # typer vendors click since 0.20
from typer._click.exceptions import ClickException
from typer.core import TyperGroup

from newsletter.errors import BriefFormatError, NewsletterError

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from newsletter.db import Database

# The settings and the database are imported where they are used, not here: this module is
# imported by the root command, and `newsletter --version` must not pay for SQLAlchemy.

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)


def open_db() -> Database:
    """The configured database, migrated to the current schema, with the campaigns
    package's segment rules and personal-data sections registered (every command that can
    meet a segment or a data-protection request opens the database through here)."""
    from campaigns.wiring import wire_extensions
    from newsletter.config import get_settings
    from newsletter.db import open_database

    wire_extensions()
    return open_database(get_settings().database_url)


@contextmanager
def opened_db() -> Iterator[Database]:
    """:func:`open_db` for the length of a command: its connections are closed after it."""
    database = open_db()
    try:
        yield database
    finally:
        database.dispose()


@contextmanager
def reading_db() -> Iterator[Session]:
    """A read-only transaction on the database reports and counts read from
    (``NEWSLETTER_READ_DATABASE_URL``, else the main one, migrated as :func:`open_db` does),
    for the length of a command."""
    from newsletter.config import get_settings
    from newsletter.db import open_read_database

    with opened_db() as main:
        reader = open_read_database(get_settings().read_database_url, main)
        try:
            with reader.reading() as session:
                yield session
        finally:
            if reader is not main:
                reader.dispose()


def report_error(exc: BaseException) -> None:
    """Print an error as one line per problem, prefixed so scripts can grep it."""
    if isinstance(exc, BriefFormatError):
        for problem in exc.problems:
            err_console.print(f"error: {problem}", markup=False, soft_wrap=True)
        return
    if isinstance(exc, NewsletterError):
        err_console.print(f"error: {exc}", markup=False, soft_wrap=True)
        return
    message = str(exc) or type(exc).__name__
    err_console.print(
        f"internal error ({type(exc).__name__}): {message} "
        "(set NEWSLETTER_DEBUG=1 for the traceback)",
        markup=False,
        soft_wrap=True,
    )
    from newsletter.config import get_settings

    if get_settings().debug:
        err_console.print(traceback.format_exc(), markup=False)


class ErrorReportingGroup(TyperGroup):
    """The root command group: our errors become one line and exit code 1, never a traceback."""

    def invoke(self, ctx: Context) -> Any:
        try:
            return super().invoke(ctx)
        except (ClickException, typer.Abort, typer.Exit):
            raise
        except NewsletterError as exc:
            report_error(exc)
            sys.exit(1)
        except KeyboardInterrupt:
            err_console.print("interrupted")
            sys.exit(130)
        except Exception as exc:
            report_error(exc)
            sys.exit(2)


def split_values(values: list[str] | None) -> list[str]:
    """Values of a repeatable option, each of which may also be a comma-separated list."""
    return [item.strip() for value in values or [] for item in value.split(",") if item.strip()]
