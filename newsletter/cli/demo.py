"""`newsletter demo`: the whole job end to end on embedded defaults, narrated step by step.

One function that grows with the product: import the sample briefs, then (as the features
land) add subscribers, compile the weekly digest, send it to the outbox and report.
"""

from __future__ import annotations

from newsletter.briefs.importer import import_briefs
from newsletter.cli.common import console, open_db
from newsletter.config import get_settings
from newsletter.resources import data_path


def demo_command() -> None:
    """Run the main job end to end on the configured (by default embedded) database."""
    settings = get_settings()
    console.rule("[bold]newsletter demo")
    console.print(f"database: {settings.database_url}")
    database = open_db()

    console.rule("1. import the sample briefs")
    imported = import_briefs(database, [data_path("examples") / "briefs"], mark_ready=True)
    for item in imported:
        brief = item.brief
        console.print(
            f"{'added' if item.created else 'updated'} [bold]{brief.slug}[/]: "
            f"{len(brief.facts)} facts, {len(brief.narratives)} narratives, "
            f"topics {', '.join(brief.topics) or '-'}"
        )
    console.print(f"{len(imported)} briefs imported and marked ready")
