"""`newsletter events prune`: drop old tracking events and expired raw payloads.

The work is in :mod:`campaigns.retention`; this parses the age, runs the prune (or, with
``--dry-run``, only counts) and prints what went.
"""

from __future__ import annotations

from typing import Annotated

import typer

from campaigns.retention import parse_age, prune_events
from newsletter.cli.common import console, opened_db
from newsletter.config import get_settings

app = typer.Typer(
    help="Tracking events: how long they are kept (partitions, pruning).", no_args_is_help=True
)


@app.command("prune")
def prune_command(
    older_than: Annotated[
        str,
        typer.Option(
            "--older-than",
            help="Drop events older than this: 30d (days), 8w (weeks) or 13m (months).",
        ),
    ],
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print what would go; change nothing.")
    ] = False,
) -> None:
    """Drop events older than --older-than (whole months on PostgreSQL) and raw payloads
    older than NEWSLETTER_EVENT_PAYLOAD_DAYS."""
    age = parse_age(older_than)
    settings = get_settings()
    with opened_db() as database:
        report = prune_events(
            database, age, payload_days=settings.event_payload_days, dry_run=dry_run
        )
    for line in report.lines():
        console.print(line, markup=False)
