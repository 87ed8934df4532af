"""`newsletter report CAMPAIGN`: a campaign's figures as tables, JSON or CSV."""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from campaigns.report_tables import FIGURE_ROWS, CsvTable, rate_text, report_csv
from campaigns.reports import CampaignReport, campaign_report
from newsletter.cli.common import console, opened_db


class Grouping(StrEnum):
    segment = "segment"
    choice = "choice"


class Format(StrEnum):
    table = "table"
    json = "json"
    csv = "csv"


def report_command(
    campaign_id: Annotated[int, typer.Argument(metavar="CAMPAIGN", help="The campaign's id.")],
    output: Annotated[
        Format, typer.Option("--format", "-f", help="table (for people), json or csv.")
    ] = Format.table,
    csv_table: Annotated[
        CsvTable, typer.Option("--table", help="Which table --format csv prints.")
    ] = CsvTable.segments,
    top: Annotated[int, typer.Option(min=1, max=1000, help="How many top links.")] = 10,
    by: Annotated[
        Grouping,
        typer.Option(
            "--by", help="The table's columns: per segment, or per readers' choice (variant)."
        ),
    ] = Grouping.segment,
) -> None:
    """A campaign's report: sending, delivery, opens and clicks per segment, brief, narrative."""
    with opened_db() as database, database.transaction() as session:
        report = campaign_report(session, campaign_id, top_links=top)
    if output is Format.json:
        typer.echo(json.dumps(report.as_dict(), indent=2, ensure_ascii=False))
    elif output is Format.csv:
        typer.echo(report_csv(report, csv_table), nl=False)
    else:
        print_report(report, by)


def print_report(report: CampaignReport, by: Grouping = Grouping.segment) -> None:
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
    if by is Grouping.choice:
        figures = [(c.variant, c.figures) for c in report.choices]
    else:
        figures = [(s.segment, s.figures) for s in report.segments]
    if len(figures) != 1:
        figures.append(("all", report.totals))
    table = Table("", title="readers' choices" if by is Grouping.choice else "segments")
    for name, _ in figures:
        table.add_column(Text(name), justify="right")
    for label, name, is_rate in FIGURE_ROWS:
        values = [getattr(f, name) for _, f in figures]
        table.add_row(label, *(rate_text(v) if is_rate else f"{v:,}" for v in values))
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
    if report.lapsed_readers:
        console.print(
            f"list: {report.lapsed_readers:,} lapsed reader(s), kept but not sent to "
            "(sunset policy; `newsletter subscribers list --status lapsed`)"
        )
