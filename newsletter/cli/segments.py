"""`newsletter segments …`: named rules over subscribers, with counts and samples."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from newsletter.cli.common import console, opened_db, reading_db
from newsletter.cli.listing import Column, ListFormat, ListFormatOption, print_listing
from newsletter.errors import InvalidInput
from newsletter.untrusted import MalformedInput, load_json
from subscribers.segment_store import (
    context_for,
    count_members,
    create_segment,
    delete_segment,
    get_segment,
    list_segments,
    rule_of,
    sample_members,
)

app = typer.Typer(
    help="Named rules that pick subscribers (and their variant).", no_args_is_help=True
)


def _json(value: str, field: str) -> Any:
    try:
        return load_json(value, field=field)
    except MalformedInput as exc:
        raise InvalidInput(field, f"is not valid JSON ({exc.reason})") from None


def _attribute(text: str) -> dict[str, Any]:
    key, sep, value = text.partition("=")
    if not sep:
        raise InvalidInput("--attr", f"{text!r}: write KEY=VALUE, or KEY to require it exists")
    return {"type": "attribute", "key": key.strip(), "equals": value}


def friendly_rule(
    status: list[str],
    topics: list[str],
    narratives: list[str],
    sources: list[str],
    created_within: int | None,
    attributes: list[str],
) -> dict[str, Any] | None:
    """The rule the short options describe (all of them must hold), or None if none given."""
    rules: list[dict[str, Any]] = []
    if status:
        rules.append({"type": "status", "in": status})
    if topics:
        rules.append({"type": "topics", "any": topics})
    if narratives:
        rules.append({"type": "narratives", "in": narratives})
    if sources:
        rules.append({"type": "source", "in": sources})
    if created_within is not None:
        rules.append({"type": "created", "within_days": created_within})
    for text in attributes:
        if "=" in text:
            rules.append(_attribute(text))
        else:
            rules.append({"type": "attribute", "key": text.strip(), "exists": True})
    if not rules:
        return None
    return rules[0] if len(rules) == 1 else {"type": "all", "rules": rules}


@app.command("add")
def add_command(
    name: str,
    rule: Annotated[str | None, typer.Option(help="The rule as JSON (see docs).")] = None,
    options: Annotated[
        str | None, typer.Option(help="VariantOptions of this segment's variant, as JSON.")
    ] = None,
    description: Annotated[str | None, typer.Option(help="What the segment is for.")] = None,
    status: Annotated[list[str] | None, typer.Option("--status", help="Status is one of.")] = None,
    topic: Annotated[list[str] | None, typer.Option("--topic", help="Chose any of.")] = None,
    narratives: Annotated[
        list[str] | None, typer.Option("--narratives", help="Narrative display is one of.")
    ] = None,
    source: Annotated[list[str] | None, typer.Option("--source", help="Signed up via.")] = None,
    created_within: Annotated[
        int | None, typer.Option(help="Signed up in the last N days.")
    ] = None,
    attr: Annotated[
        list[str] | None, typer.Option("--attr", help="KEY=VALUE, or KEY (exists).")
    ] = None,
) -> None:
    """Add a segment: --rule JSON, or the short options (all must hold), not both."""
    short = friendly_rule(
        status or [], topic or [], narratives or [], source or [], created_within, attr or []
    )
    if (rule is None) == (short is None):
        raise InvalidInput("--rule", "give either --rule JSON or the short options, not both")
    chosen = _json(rule, "--rule") if rule is not None else short
    with opened_db() as database, database.transaction() as session:
        segment = create_segment(
            session,
            name,
            chosen or {},
            options=_json(options, "--options") if options else None,
            description=description,
        )
        counts = count_members(session, rule_of(segment), context_for(session))
    console.print(
        f"added segment {segment.name}: {counts.matching} match, {counts.mailable} mailable now",
        markup=False,
    )


LIST_COLUMNS = (
    Column("name", identifier=True),
    Column("matching"),
    Column("mailable"),
    Column("description"),
)


@app.command("list")
def list_command(fmt: ListFormatOption = ListFormat.table) -> None:
    """Segments with how many subscribers match and how many a send would reach now."""
    with reading_db() as session:
        ctx = context_for(session)
        rows = []
        for segment in list_segments(session):
            counts = count_members(session, rule_of(segment), ctx)
            rows.append(
                {
                    "name": segment.name,
                    "matching": counts.matching,
                    "mailable": counts.mailable,
                    "description": segment.description,
                }
            )
    print_listing(rows, LIST_COLUMNS, fmt, empty="no segments yet: try `newsletter segments add`")


@app.command("show")
def show_command(
    name: str,
    sample: Annotated[int, typer.Option(help="How many members to show.")] = 10,
) -> None:
    """A segment's rule, options, counts and a sample of its members."""
    with reading_db() as session:
        segment = get_segment(session, name)
        ctx = context_for(session)
        rule = rule_of(segment)
        counts = count_members(session, rule, ctx)
        members = sample_members(session, rule, ctx, limit=sample)
        console.print(f"segment {segment.name}", markup=False)
        if segment.description:
            console.print(f"  {segment.description}", markup=False)
        console.print(f"rule: {json.dumps(segment.rule, ensure_ascii=False)}", markup=False)
        console.print(f"options: {json.dumps(segment.options, ensure_ascii=False)}", markup=False)
        console.print(f"{counts.matching} match, {counts.mailable} mailable now")
        table = Table("email", "status", "topics", "narratives", "source")
        for member in members:
            table.add_row(
                Text(member.email or ""),
                member.status,
                Text(", ".join(member.topics)),
                member.narratives,
                Text(member.source or ""),
            )
        console.print(table if members else "(no members)")


@app.command("remove")
def remove_command(name: str) -> None:
    """Delete a segment."""
    with opened_db() as database, database.transaction() as session:
        delete_segment(session, name)
    console.print(f"removed segment {name}", markup=False)
