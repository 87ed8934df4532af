"""`newsletter webhooks …`: endpoints that receive signed events, their delivery log, and
delivering what is due (see docs/webhooks.md)."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

import typer

from newsletter.cli.common import console, err_console, opened_db
from newsletter.cli.listing import Column, ListFormat, ListFormatOption, print_listing
from newsletter.config import get_settings
from newsletter.db import utcnow
from newsletter.webhooks.endpoints import (
    LOG_MAX,
    add_endpoint,
    delivery_log,
    list_endpoints,
    prune_messages,
    remove_endpoint,
    retry_now,
    set_enabled,
)
from newsletter.webhooks.model import EVENT_TYPES
from newsletter.webhooks.sender import send_due

app = typer.Typer(help="Outbound webhooks: signed events for other systems.", no_args_is_help=True)

CREATED_BY = "command line"


@app.command("add")
def add_command(
    url: Annotated[str, typer.Argument(help="Where to POST (https://…).")],
    event: Annotated[
        list[str],
        typer.Option(
            "--event", help=f"Events, comma-separated or repeated: {', '.join(EVENT_TYPES)}."
        ),
    ],
) -> None:
    """Register an endpoint and print its signing secret once."""
    allow_private = get_settings().webhooks_allow_private_addresses
    with opened_db() as database, database.transaction() as session:
        made = add_endpoint(session, url, event, created_by=CREATED_BY, allow_private=allow_private)
        endpoint_id, events = made.row.id, ", ".join(made.row.events)
    err_console.print(
        f"webhook endpoint {endpoint_id} ({events}): its signing secret, shown once:",
        markup=False,
    )
    typer.echo(made.secret)


def _when(at: object) -> str:
    return f"{at:%Y-%m-%d %H:%M:%S}" if at else "-"


ENDPOINT_COLUMNS = (
    Column("id", identifier=True),
    Column("url", identifier=True),
    Column("events"),
    Column("enabled", shown=lambda on: "yes" if on else "no"),
    Column("created_by", "created by"),
    Column("created_at", "created (UTC)", shown=_when),
)


@app.command("list")
def list_command(fmt: ListFormatOption = ListFormat.table) -> None:
    """Every endpoint (never its secret)."""
    with opened_db() as database, database.transaction() as session:
        rows = [
            {
                "id": e.id,
                "url": e.url,
                "events": list(e.events),
                "enabled": e.enabled,
                "created_by": e.created_by,
                "created_at": e.created_at,
            }
            for e in list_endpoints(session)
        ]
    print_listing(rows, ENDPOINT_COLUMNS, fmt, empty="no webhook endpoints yet")


@app.command("remove")
def remove_command(endpoint_id: Annotated[int, typer.Argument(help="The endpoint's id.")]) -> None:
    """Delete an endpoint and its messages."""
    with opened_db() as database, database.transaction() as session:
        url = remove_endpoint(session, endpoint_id)
    console.print(f"removed webhook endpoint {endpoint_id} ({url})", markup=False)


@app.command("enable")
def enable_command(endpoint_id: Annotated[int, typer.Argument(help="The endpoint's id.")]) -> None:
    """Send to this endpoint again (its waiting messages go out)."""
    with opened_db() as database, database.transaction() as session:
        set_enabled(session, endpoint_id, True)
    console.print(f"webhook endpoint {endpoint_id} is enabled", markup=False)


@app.command("disable")
def disable_command(
    endpoint_id: Annotated[int, typer.Argument(help="The endpoint's id.")],
) -> None:
    """Stop sending to this endpoint (no new messages; queued ones wait)."""
    with opened_db() as database, database.transaction() as session:
        set_enabled(session, endpoint_id, False)
    console.print(f"webhook endpoint {endpoint_id} is disabled", markup=False)


LOG_COLUMNS = (
    Column("id", identifier=True),
    Column("endpoint_id", "endpoint"),
    Column("event_type", "event"),
    Column("status"),
    Column("attempts"),
    Column("last_status_code", "last code", shown=lambda c: str(c) if c else "-"),
    Column("last_error", "last error", shown=lambda e: e or "-"),
    Column("last_response", "last response", shown=lambda r: (r or "-")[:80]),
    Column("next_attempt_at", "next attempt (UTC)", shown=_when),
    Column("delivered_at", "delivered (UTC)", shown=_when),
)


@app.command("log")
def log_command(
    endpoint: Annotated[int | None, typer.Option(help="Only this endpoint's messages.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=LOG_MAX, help="How many, newest first.")] = 50,
    fmt: ListFormatOption = ListFormat.table,
) -> None:
    """The delivery log: each message's status, attempts and last response."""
    with opened_db() as database, database.transaction() as session:
        rows = [vars(row) for row in delivery_log(session, limit=limit, endpoint_id=endpoint)]
    print_listing(rows, LOG_COLUMNS, fmt, empty="no webhook messages yet")


@app.command("retry")
def retry_command(message_id: Annotated[int, typer.Argument(help="The message's id.")]) -> None:
    """Make a pending or failed message due now (send-due or a worker sends it)."""
    with opened_db() as database, database.transaction() as session:
        retry_now(session, message_id)
    console.print(f"webhook message {message_id} is due now", markup=False)


@app.command("send-due")
def send_due_command() -> None:
    """Deliver every message that is due now, then stop (workers do this every round)."""
    with opened_db() as database:
        report = send_due(database, get_settings())
    console.print(
        f"{report.delivered} delivered, {report.retrying} to retry, {report.failed} failed",
        markup=False,
    )


@app.command("prune")
def prune_command(
    days: Annotated[int, typer.Option(min=1, max=3650, help="Keep this many days.")] = 30,
) -> None:
    """Delete delivered and failed messages older than --days (pending ones stay)."""
    with opened_db() as database, database.transaction() as session:
        gone = prune_messages(session, older_than=utcnow() - timedelta(days=days))
    console.print(f"deleted {gone} webhook message(s) older than {days} days", markup=False)
