"""`newsletter report CAMPAIGN` (a campaign's figures) and `newsletter report health` (the
list's health over time), as tables, JSON or CSV."""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text
from typer._click.core import Context  # typer vendors click since 0.20
from typer.core import TyperGroup

from campaigns.health import MAX_PERIODS, HealthHistory, HealthPeriod, health_history
from campaigns.health_lines import Health, Level
from campaigns.report_tables import (
    FIGURE_ROWS,
    CsvTable,
    health_csv,
    health_text,
    rate_text,
    report_csv,
)
from campaigns.reports import CampaignReport, campaign_report
from campaigns.subject_tests import SubjectTestReport
from newsletter.cli.common import console, reading_db


class CampaignByDefault(TyperGroup):
    """``report 12`` means ``report campaign 12``: when the first word that is not an option
    names no command, the arguments are the campaign report's (the command's shape before
    ``report health`` came, ``report --format json 12`` included)."""

    def parse_args(self, ctx: Context, args: list[str]) -> list[str]:
        first = next((arg for arg in args if not arg.startswith("-")), None)
        if first is not None and first not in self.commands:
            args = ["campaign", *args]
        return super().parse_args(ctx, args)


app = typer.Typer(
    cls=CampaignByDefault,
    help="A campaign's report (`report CAMPAIGN`), or the list's health over time "
    "(`report health`).",
    no_args_is_help=True,
)


class Grouping(StrEnum):
    segment = "segment"
    choice = "choice"


class Format(StrEnum):
    table = "table"
    json = "json"
    csv = "csv"


@app.command("campaign")
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
    with reading_db() as session:
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
    if report.subject_test is not None:
        print_subject_test(report.subject_test)
    console.print(Text.assemble(("list health: ", "bold"), _health_line(report.health)))
    if report.lapsed_readers:
        console.print(
            f"list: {report.lapsed_readers:,} lapsed reader(s), kept but not sent to "
            "(sunset policy; `newsletter subscribers list --status lapsed`)"
        )


def print_subject_test(test: SubjectTestReport) -> None:
    """Each cell's unique human clicks, and the outcome (opens are not evidence)."""
    title = (
        f"subject test: {test.share:.0%} of the audience per cell, decided by unique human "
        "clicks (opens not counted)"
    )
    cells = Table("cell", "subject", "sent", "human clickers", "rate", "best beats it", title=title)
    for cell in test.cells:
        beaten = cell.confidence_best_beats_it
        cells.add_row(
            cell.label,
            Text(cell.subject),
            f"{cell.sent:,}",
            f"{cell.clickers:,}",
            rate_text(cell.click_rate),
            "best" if beaten is None else f"{beaten:.1%} sure",
        )
    console.print(cells)
    console.print(Text(test.outcome))


LEVEL_STYLE = {Level.OK: "green", Level.WARNING: "yellow", Level.OVER: "bold red"}


def _health_line(health: Health) -> Text:
    return Text(health_text(health), style=LEVEL_STYLE.get(health.level, ""))


@app.command("health")
def health_command(
    last: Annotated[
        int,
        typer.Option("--last", min=1, max=MAX_PERIODS, help="How many campaigns, weeks or months."),
    ] = 12,
    by: Annotated[
        HealthPeriod, typer.Option("--by", help="One row per campaign, week or month.")
    ] = HealthPeriod.campaign,
    output: Annotated[
        Format, typer.Option("--format", "-f", help="table (for people), json or csv.")
    ] = Format.table,
) -> None:
    """The list's health over time: bounce, complaint and unsubscribe rates and lapsed readers.

    Complaint rates are judged against Gmail's lines (warning from 0.1 %, over the limit
    from 0.3 %), bounce rates against 2 % and 5 % of sent; weeks and months are the
    editors' (NEWSLETTER_EDITOR_TIMEZONE)."""
    from newsletter.config import get_settings

    timezone = get_settings().editor_timezone
    with reading_db() as session:
        history = health_history(session, by=by, last=last, timezone=timezone)
    if output is Format.json:
        typer.echo(json.dumps(history.as_dict(), indent=2, ensure_ascii=False))
    elif output is Format.csv:
        typer.echo(health_csv(history), nl=False)
    else:
        print_health(history)


def print_health(history: HealthHistory) -> None:
    """The history as one table, oldest first, each judged rate coloured by its level."""
    what = {"campaign": "campaigns", "week": "weeks", "month": "months"}[history.by.value]
    table = Table(
        history.by.value,
        "sent",
        "delivered",
        "bounce rate",
        "complaint rate",
        "unsub. rate",
        "lapsed",
        title=f"list health, the last {history.last} {what}",
    )
    for row in history.rows:
        f, health = row.figures, row.health
        table.add_row(
            Text(row.label),
            f"{f.sent:,}",
            f"{f.delivered:,}" if f.rate_base == "delivered" else "–",
            _judged(rate_text(health.bounce.rate), health.bounce.level),
            _judged(rate_text(health.complaint.rate), health.complaint.level),
            rate_text(health.unsubscribe_rate),
            f"{row.lapsed:,}",
        )
    if history.by is HealthPeriod.campaign and not history.rows:
        console.print("No campaign has started sending yet: nothing to judge.")
        return
    console.print(table)
    console.print(
        "complaints: warning from 0.1 %, over Gmail's limit from 0.3 % (of delivered, or of "
        "sent where the provider reports no deliveries); bounces of sent: warning from 2 %, "
        "over the limit from 5 %; lapsed: readers lapsed at the campaign's start or the "
        "period's end",
        markup=False,
    )
    flagged = [row for row in history.rows if row.health.level in (Level.WARNING, Level.OVER)]
    for row in flagged:
        console.print(Text.assemble((row.label, "bold"), ": ", _health_line(row.health)))


def _judged(text: str, level: Level) -> Text:
    marks = {Level.WARNING: " !", Level.OVER: " !!"}
    return Text(text + marks.get(level, ""), style=LEVEL_STYLE.get(level, ""))
