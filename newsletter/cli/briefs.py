"""`newsletter briefs …`: import, list, show, export and mark briefs ready."""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.panel import Panel
from rich.text import Text

from newsletter.briefs.document import Brief, BriefStatus
from newsletter.briefs.export import dump_brief
from newsletter.briefs.importer import import_briefs
from newsletter.briefs.schema import brief_json_schema
from newsletter.briefs.store import list_brief_rows, load_brief, set_status
from newsletter.cli.common import console, open_db
from newsletter.cli.listing import Column, ListFormat, ListFormatOption, print_listing

app = typer.Typer(help="Import, inspect and export briefs.", no_args_is_help=True)


class Format(StrEnum):
    json = "json"
    yaml = "yaml"
    text = "text"


@app.command("import")
def import_command(
    paths: Annotated[list[Path], typer.Argument(help="Brief files or folders of them.")],
    ready: Annotated[bool, typer.Option("--ready", help="Mark the briefs ready.")] = False,
) -> None:
    """Import brief files (plain text, .yaml/.yml, .json): all of them, or none on any error."""
    results = import_briefs(open_db(), paths, mark_ready=ready)
    for result in results:
        verb = "added" if result.created else "updated"
        console.print(f"{verb} [bold]{result.brief.slug}[/] ← {result.path}")
        for warning in result.brief.warnings():
            console.print(f"  [yellow]warning:[/] {warning}", soft_wrap=True)
    console.print(f"{len(results)} brief(s) imported")


LIST_COLUMNS = (
    Column("slug", identifier=True),
    Column("title"),
    Column("updated"),
    Column("status"),
    Column("topics"),
    Column("facts"),
    Column("narratives"),
)


@app.command("list")
def list_command(
    status: Annotated[str | None, typer.Option(help="Only 'draft' or 'ready' briefs.")] = None,
    fmt: ListFormatOption = ListFormat.table,
) -> None:
    """List stored briefs, newest first."""
    if status not in (None, "draft", "ready"):
        raise typer.BadParameter("status must be 'draft' or 'ready'", param_hint="--status")
    database = open_db()
    with database.transaction() as session:
        rows = [
            {
                "slug": row.slug,
                "title": row.title,
                "updated": row.updated,
                "status": row.status,
                "topics": list(row.topics),
                "facts": len(row.facts),
                "narratives": len(row.narratives),
            }
            for row in list_brief_rows(session, status=status)  # type: ignore[arg-type]
        ]
    print_listing(
        rows, LIST_COLUMNS, fmt, empty="no briefs yet: try `newsletter briefs import FILE`"
    )


@app.command("show")
def show_command(slug: str) -> None:
    """Show a brief as a reader would see it, in the terminal."""
    database = open_db()
    with database.transaction() as session:
        brief = load_brief(session, slug)
    console.print(render_brief(brief))


@app.command("export")
def export_command(
    slug: str,
    fmt: Annotated[Format, typer.Option("--format", "-f", help="Output format.")] = Format.json,
) -> None:
    """Print a brief in its canonical form; importing the output gives the same brief back."""
    database = open_db()
    with database.transaction() as session:
        brief = load_brief(session, slug)
    typer.echo(dump_brief(brief, fmt.value), nl=False)


@app.command("ready")
def ready_command(
    slugs: Annotated[list[str], typer.Argument(help="Slugs of the briefs.")],
    draft: Annotated[bool, typer.Option("--draft", help="Mark them draft instead.")] = False,
) -> None:
    """Mark briefs ready for the weekly digest (or back to draft)."""
    status: BriefStatus = "draft" if draft else "ready"
    database = open_db()
    with database.transaction() as session:
        rows = set_status(session, slugs, status)
    for row in rows:
        console.print(f"{row.slug}: {status}")


@app.command("schema")
def schema_command() -> None:
    """Print the JSON Schema of the structured (YAML/JSON) brief format."""
    typer.echo(json.dumps(brief_json_schema(), indent=2, ensure_ascii=False))


def render_brief(brief: Brief) -> Panel:
    """A terminal rendering: facts with citation markers, sources, narratives, warnings."""
    body = Text()
    meta = f"Updated {brief.updated:%d %b %Y} · {brief.status}"
    if brief.topics:
        meta += " · " + ", ".join(brief.topics)
    body.append(meta + "\n", style="dim")
    if brief.image_url or brief.image_credit:
        body.append(f"Image: {brief.image_url or '(none)'}  credit: {brief.image_credit}\n", "dim")
    body.append("\n")
    for fact in brief.facts:
        body.append("• " + fact.text)
        body.append("".join(f"[{n}]" for n in fact.citations), style="cyan")
        body.append("\n")
    for narrative in brief.narratives:
        body.append(f"\n{narrative.label}", style="bold magenta")
        if narrative.kind == "establishment":
            body.append("  (establishment split)", style="dim")
        body.append("\n")
        if narrative.probability is not None:
            filled = round(narrative.probability * 20)
            body.append(f"{narrative.probability:.0%} ", style="bold")
            body.append("█" * filled + "░" * (20 - filled), style="green")
            body.append(f"  {narrative.forecaster or ''}, as of {narrative.as_of}\n", "dim")
        for paragraph in narrative.paragraphs:
            body.append(paragraph + "\n")
    if brief.sources:
        body.append("\nSources\n", style="bold")
        for source in brief.sources:
            body.append(f"[{source.number}] ", style="cyan")
            body.append(" ".join(filter(None, [source.label, source.url])) + "\n")
    for warning in brief.warnings():
        body.append(f"\nwarning: {warning}", style="yellow")
    return Panel(body, title=Text(brief.title, style="bold"), subtitle=brief.slug)
