"""`newsletter welcome …`: the welcome series' steps (what confirmed readers receive)."""

from __future__ import annotations

from typing import Annotated

import typer

from campaigns.welcome_steps import (
    DEFAULT_BODY,
    StepText,
    add_step,
    edit_step,
    get_step,
    set_enabled,
    step_summaries,
)
from newsletter.cli.common import console, opened_db, reading_db
from newsletter.cli.listing import Column, ListFormat, ListFormatOption, print_listing
from newsletter.errors import InvalidInput

app = typer.Typer(
    help="The welcome series: mails sent N days after a reader confirms.", no_args_is_help=True
)

DayOption = Annotated[int, typer.Option("--day", help="Days after confirmation (0: next round).")]
BodyOption = Annotated[
    str | None, typer.Option(help="Plain text; a blank line starts a paragraph.")
]

LIST_COLUMNS = (
    Column("id", identifier=True),
    Column("day"),
    Column("subject"),
    Column("state"),
    Column("version"),
    Column("readers"),
    Column("campaigns"),
)


@app.command("list")
def list_command(fmt: ListFormatOption = ListFormat.table) -> None:
    """Steps in order, with readers queued and each version's campaign (its report)."""
    with reading_db() as session:
        rows = [
            {
                "id": item.step.id,
                "day": item.step.delay_days,
                "subject": item.step.subject,
                "state": "enabled" if item.step.enabled else "disabled",
                "version": item.step.version,
                "readers": item.readers,
                "campaigns": " ".join(f"v{v.version}:{v.campaign_id}" for v in item.versions),
            }
            for item in step_summaries(session)
        ]
    print_listing(rows, LIST_COLUMNS, fmt, empty="no welcome steps: try `newsletter welcome add`")


@app.command("add")
def add_command(
    subject: Annotated[str, typer.Argument(help="Subject ({newsletter}: the name).")],
    day: DayOption = 0,
    body: BodyOption = None,
) -> None:
    """Add a step at the end of the series (the default text when --body is not given)."""
    with opened_db() as database, database.transaction() as session:
        step = add_step(session, StepText(day, subject, DEFAULT_BODY if body is None else body))
        shown = (step.id, step.delay_days)
    console.print(f"added welcome step {shown[0]}: day {shown[1]}", markup=False)


@app.command("edit")
def edit_command(
    step_id: Annotated[int, typer.Argument(help="The step's id (see `welcome list`).")],
    subject: Annotated[str | None, typer.Option(help="A new subject.")] = None,
    day: Annotated[int | None, typer.Option("--day", help="New days after confirmation.")] = None,
    body: BodyOption = None,
) -> None:
    """Change a step: a new version, sent to readers who have not had the step yet."""
    if subject is None and day is None and body is None:
        raise InvalidInput("edit", "give --subject, --day or --body")
    with opened_db() as database, database.transaction() as session:
        old = get_step(session, step_id)
        text = StepText(
            old.delay_days if day is None else day,
            old.subject if subject is None else subject,
            old.body if body is None else body,
        )
        version = edit_step(session, step_id, text).version
    console.print(f"welcome step {step_id} is at version {version}", markup=False)


@app.command("disable")
def disable_command(step_id: int) -> None:
    """Stop queueing a step to new readers (those queued already still get it)."""
    with opened_db() as database, database.transaction() as session:
        set_enabled(session, step_id, False)
    console.print(f"welcome step {step_id} disabled", markup=False)


@app.command("enable")
def enable_command(step_id: int) -> None:
    """Queue a disabled step again."""
    with opened_db() as database, database.transaction() as session:
        set_enabled(session, step_id, True)
    console.print(f"welcome step {step_id} enabled", markup=False)
