"""`newsletter apikeys …`: keys for the newsroom's systems to call `/api/v1`."""

from __future__ import annotations

from typing import Annotated

import typer

from newsletter.apikeys.keys import (
    SCOPES,
    create_key,
    list_keys,
    parse_scopes,
    revoke_key,
    shown_prefix,
)
from newsletter.apikeys.model import ApiKey
from newsletter.cli.common import console, err_console, opened_db
from newsletter.cli.listing import Column, ListFormat, ListFormatOption, print_listing
from newsletter.config import get_settings

app = typer.Typer(help="API keys for /api/v1 (scoped, shown once).", no_args_is_help=True)

CREATED_BY = "command line"


@app.command("create")
def create_command(
    name: Annotated[str, typer.Option("--name", help="What the key is for (e.g. cms).")],
    scope: Annotated[
        list[str],
        typer.Option("--scope", help=f"Scopes, comma-separated or repeated: {', '.join(SCOPES)}."),
    ],
    rate_limit: Annotated[
        int | None,
        typer.Option(help="Requests a minute (0: none; default NEWSLETTER_API_KEY_RATE_LIMIT)."),
    ] = None,
) -> None:
    """Make a key and print it once: it is stored hashed and cannot be shown again."""
    limit = get_settings().api_key_rate_limit if rate_limit is None else rate_limit
    with opened_db() as database, database.transaction() as session:
        scopes = parse_scopes(scope, "--scope")
        made = create_key(session, name, scopes, created_by=CREATED_BY, rate_limit=limit)
        shown = ", ".join(made.row.scopes)
    err_console.print(
        f"API key {made.row.name!r} ({shown}): copy it now, it is not shown again:",
        markup=False,
    )
    typer.echo(made.secret)


def _row(key: ApiKey) -> dict[str, object]:
    return {
        "name": key.name,
        "prefix": shown_prefix(key),
        "scopes": list(key.scopes),
        "rate_limit": key.rate_limit,
        "created_by": key.created_by,
        "created_at": key.created_at,
        "last_used_at": key.last_used_at,
        "revoked_at": key.revoked_at,
    }


def _when(at: object) -> str:
    return f"{at:%Y-%m-%d %H:%M}" if at else "never"


LIST_COLUMNS = (
    Column("name", identifier=True),
    Column("prefix", identifier=True),
    Column("scopes"),
    Column("rate_limit", "per minute", shown=lambda n: str(n) if n else "no limit"),
    Column("created_by", "created by"),
    Column("created_at", "created (UTC)", shown=_when),
    Column("last_used_at", "last used (UTC)", shown=_when),
    Column("revoked_at", "revoked (UTC)", shown=lambda at: _when(at) if at else "-"),
)


@app.command("list")
def list_command(fmt: ListFormatOption = ListFormat.table) -> None:
    """Every key, newest first, revoked ones too (never the keys themselves)."""
    with opened_db() as database, database.transaction() as session:
        rows = [_row(key) for key in list_keys(session)]
    print_listing(rows, LIST_COLUMNS, fmt, empty="no API keys yet")


@app.command("revoke")
def revoke_command(
    name_or_prefix: Annotated[str, typer.Argument(help="The key's name or its prefix.")],
) -> None:
    """Revoke a key: every request with it is refused from now on."""
    with opened_db() as database, database.transaction() as session:
        key = revoke_key(session, name_or_prefix)
        console.print(f"revoked the API key {key.name!r} ({shown_prefix(key)})", markup=False)
