"""`newsletter report CAMPAIGN`: a campaign's figures as tables, JSON or CSV."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
from enum import StrEnum
from typing import Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from campaigns.reports import (
    BriefClicks,
    CampaignReport,
    Figures,
    LinkClicks,
    NarrativeClicks,
    campaign_report,
)
from newsletter.cli.common import console, opened_db


class Format(StrEnum):
    table = "table"
    json = "json"
    csv = "csv"


class CsvTable(StrEnum):
    segments = "segments"
    briefs = "briefs"
    narratives = "narratives"
    links = "links"


# Rows of the segments table: (label, figure name, is a rate).
ROWS: tuple[tuple[str, str, bool], ...] = (
    ("recipients", "recipients", False),
    ("sent", "sent", False),
    ("pending", "pending", False),
    ("failed", "failed", False),
    ("unknown", "unknown", False),
    ("skipped", "skipped", False),
    ("delivered", "delivered", False),
    ("bounced", "bounced", False),
    ("  hard", "hard_bounced", False),
    ("  soft", "soft_bounced", False),
    ("dropped", "dropped", False),
    ("opened (readers)", "opened", False),
    ("opened by machines only", "machine_opened", False),
    ("clicked (readers)", "clicked", False),
    ("clicks", "clicks", False),
    ("machine clicks", "machine_clicks", False),
    ("unsubscribed", "unsubscribed", False),
    ("complained", "complained", False),
    ("open rate", "open_rate", True),
    ("click rate", "click_rate", True),
    ("click-to-open", "click_to_open_rate", True),
    ("bounce rate", "bounce_rate", True),
)


def report_command(
    campaign_id: Annotated[int, typer.Argument(metavar="CAMPAIGN", help="The campaign's id.")],
    output: Annotated[
        Format, typer.Option("--format", "-f", help="table (for people), json or csv.")
    ] = Format.table,
    csv_table: Annotated[
        CsvTable, typer.Option("--table", help="Which table --format csv prints.")
    ] = CsvTable.segments,
    top: Annotated[int, typer.Option(min=1, max=1000, help="How many top links.")] = 10,
) -> None:
    """A campaign's report: sending, delivery, opens and clicks per segment, brief, narrative."""
    with opened_db() as database, database.transaction() as session:
        report = campaign_report(session, campaign_id, top_links=top)
    if output is Format.json:
        typer.echo(json.dumps(report.as_dict(), indent=2, ensure_ascii=False))
    elif output is Format.csv:
        typer.echo(report_csv(report, csv_table), nl=False)
    else:
        print_report(report)


def _rate(value: float | None) -> str:
    return "–" if value is None else f"{value * 100:.1f} %"


def print_report(report: CampaignReport) -> None:
    switches = (("opens", report.tracks_opens), ("clicks", report.tracks_clicks))
    tracked = [what for what, on in switches if on]
    console.print(
        Text.assemble(
            (report.name, "bold"),
            f" (id {report.campaign_id}) · {report.status} · {report.provider or 'not sent'}"
            f" · tracking {' and '.join(tracked) or 'off'}"
            f" · rates of {report.totals.rate_base}",
        )
    )
    figures = [(s.segment, s.figures) for s in report.segments]
    if len(figures) != 1:
        figures.append(("all", report.totals))
    table = Table("", title="segments")
    for name, _ in figures:
        table.add_column(Text(name), justify="right")
    for label, name, is_rate in ROWS:
        values = [getattr(f, name) for _, f in figures]
        table.add_row(label, *(_rate(v) if is_rate else f"{v:,}" for v in values))
    console.print(table)
    briefs = Table("brief", "clicks", "readers", title="clicks by brief")
    for brief in report.briefs:
        title = Text(brief.title or brief.brief_slug)
        briefs.add_row(title, str(brief.clicks), str(brief.clickers))
    console.print(briefs)
    if report.narratives:
        narratives = Table("brief", "narrative", "clicks", "readers", title="clicks by narrative")
        for n in report.narratives:
            narrative = Text(n.narrative)
            narratives.add_row(Text(n.brief_slug), narrative, str(n.clicks), str(n.clickers))
        console.print(narratives)
    if report.top_links:
        links = Table("clicks", "readers", "section", "brief", "url", title="top links")
        for link in report.top_links:
            links.add_row(
                str(link.clicks),
                str(link.clickers),
                link.section or "",
                Text(link.brief_slug or ""),
                Text(link.url),
            )
        console.print(links)
    if report.machine_events:
        console.print(
            "machine events (not counted): "
            + ", ".join(f"{key} {count}" for key, count in report.machine_events.items()),
            markup=False,
        )


def _figure_row(segment: str, variant_id: int | None, figures: Figures) -> dict[str, Any]:
    return {"segment": segment, "variant_id": variant_id, **dataclasses.asdict(figures)}


def report_csv(report: CampaignReport, which: CsvTable) -> str:
    """One table of the report as CSV (header first)."""
    rows: list[dict[str, Any]]
    if which is CsvTable.segments:
        rows = [_figure_row(s.segment, s.variant_id, s.figures) for s in report.segments]
        rows.append(_figure_row("all", None, report.totals))
    elif which is CsvTable.briefs:
        rows = [dataclasses.asdict(b) for b in report.briefs]
    elif which is CsvTable.narratives:
        rows = [dataclasses.asdict(n) for n in report.narratives]
    else:
        rows = [dataclasses.asdict(link) for link in report.top_links]
    out = io.StringIO()
    fields = _fields(which)
    writer = csv.DictWriter(out, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    writer.writerows({key: _cell(value) for key, value in row.items()} for row in rows)
    return out.getvalue()


def _cell(value: Any) -> Any:
    """A value for a spreadsheet: text that would start a formula gets a leading quote."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def _fields(which: CsvTable) -> list[str]:
    kinds: dict[CsvTable, list[str]] = {
        CsvTable.segments: ["segment", "variant_id", *_names(Figures)],
        CsvTable.briefs: _names(BriefClicks),
        CsvTable.narratives: _names(NarrativeClicks),
        CsvTable.links: _names(LinkClicks),
    }
    return kinds[which]


def _names(kind: Any) -> list[str]:
    return [field.name for field in dataclasses.fields(kind)]
