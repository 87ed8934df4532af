"""A campaign report as tables: the rows of figures every screen shows, and CSV downloads.

``newsletter report`` and the editor's report page both read a
:class:`~campaigns.reports.CampaignReport` through this module, so that a table, a rate or
a CSV file means the same wherever it is shown. :func:`report_csv` writes one
:class:`CsvTable` of a report; text that a spreadsheet would run as a formula is quoted.
"""

from __future__ import annotations

import csv
import dataclasses
import io
from enum import StrEnum
from typing import Any

from campaigns.health import HEALTH_COLUMNS, HealthHistory, row_dict
from campaigns.health_lines import Health, health_of
from campaigns.reports import (
    BriefClicks,
    CampaignReport,
    ChoiceReport,
    Figures,
    LinkClicks,
    NarrativeClicks,
)
from newsletter.spreadsheet import as_text_cell


class CsvTable(StrEnum):
    """The tables of a report that download as CSV."""

    segments = "segments"
    choices = "choices"
    briefs = "briefs"
    narratives = "narratives"
    links = "links"


# Rows of the segments table: (label, figure name, is a rate).
FIGURE_ROWS: tuple[tuple[str, str, bool], ...] = (
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
    ("unsubscribe rate", "unsubscribe_rate", True),
    ("complaint rate", "complaint_rate", True),
)
STATUS_COLUMNS = ("bounce_status", "complaint_status")


def rate_text(value: float | None) -> str:
    """A rate as people read it: ``42.9 %``, and under 1 % with two decimals (``0.15 %``:
    complaint rates are judged against lines of 0.1 % and 0.3 %); ``–`` when it has no base."""
    if value is None:
        return "–"
    return f"{value * 100:.2f} %" if 0 < value < 0.01 else f"{value * 100:.1f} %"


def _figure_row(segment: str, variant_id: int | None, figures: Figures) -> dict[str, Any]:
    """A segment's (or variant's) figures, and where its bounce and complaint rates stand."""
    health = health_of(figures)
    return {
        "segment": segment,
        "variant_id": variant_id,
        **dataclasses.asdict(figures),
        "bounce_status": health.bounce.level.value,
        "complaint_status": health.complaint.level.value,
    }


def health_text(health: Health) -> str:
    """One line on a report's list health: each rate, its level and why."""
    bounce, complaint = health.bounce, health.complaint
    return (
        f"bounces {rate_text(bounce.rate)} of sent ({bounce.text}) · "
        f"complaints {rate_text(complaint.rate)} ({complaint.text}) · "
        f"unsubscribes {rate_text(health.unsubscribe_rate)}"
    )


CHOICE_COLUMNS = ("variant", "narratives", "topics")


def _choice_row(choice: ChoiceReport) -> dict[str, Any]:
    """A variant's row: its choice's topics in one cell, ``;``-separated."""
    topics = None if choice.topics is None else "; ".join(choice.topics)
    return {
        **_figure_row(choice.segment, choice.variant_id, choice.figures),
        "variant": choice.variant,
        "narratives": choice.narratives,
        "topics": topics,
    }


def report_csv(report: CampaignReport, which: CsvTable) -> str:
    """One table of the report as CSV (header first)."""
    rows: list[dict[str, Any]]
    if which is CsvTable.segments:
        rows = [_figure_row(s.segment, s.variant_id, s.figures) for s in report.segments]
        rows.append(_figure_row("all", None, report.totals))
    elif which is CsvTable.choices:
        rows = [_choice_row(c) for c in report.choices]
    elif which is CsvTable.briefs:
        rows = [dataclasses.asdict(b) for b in report.briefs]
    elif which is CsvTable.narratives:
        rows = [dataclasses.asdict(n) for n in report.narratives]
    else:
        rows = [dataclasses.asdict(link) for link in report.top_links]
    return _csv(_fields(which), rows)


def health_csv(history: HealthHistory) -> str:
    """The list-health history as CSV, one row per campaign, week or month (oldest first)."""
    return _csv(list(HEALTH_COLUMNS), [row_dict(row) for row in history.rows])


def _csv(fields: list[str], rows: list[dict[str, Any]]) -> str:
    """Rows as CSV (header first); text a spreadsheet would run as a formula is quoted."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    writer.writerows({key: as_text_cell(value) for key, value in row.items()} for row in rows)
    return out.getvalue()


def _fields(which: CsvTable) -> list[str]:
    kinds: dict[CsvTable, list[str]] = {
        CsvTable.segments: ["segment", "variant_id", *_names(Figures), *STATUS_COLUMNS],
        CsvTable.choices: [
            "segment",
            "variant_id",
            *CHOICE_COLUMNS,
            *_names(Figures),
            *STATUS_COLUMNS,
        ],
        CsvTable.briefs: _names(BriefClicks),
        CsvTable.narratives: _names(NarrativeClicks),
        CsvTable.links: _names(LinkClicks),
    }
    return kinds[which]


def _names(kind: Any) -> list[str]:
    return [field.name for field in dataclasses.fields(kind)]
