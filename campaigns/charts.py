"""Charts of a campaign report as inline SVG, drawn on the server (no JavaScript needed).

:func:`report_charts` gives the editor's report page every chart of a
:class:`~campaigns.reports.CampaignReport` as :class:`~markupsafe.Markup`, ready to put
into a Jinja template as ``{{ charts.segments }}``. :func:`bar_chart` draws any other
horizontal bar chart (one or more series per category).

Every text (segment names, brief titles, narrative labels come from editors and briefs)
is XML-escaped and stripped of characters XML does not allow, long labels are shortened
with the full text kept in a ``<title>`` tooltip, and each chart has ``role="img"`` and
an accessible name, so a chart is safe to inline in any page.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

from campaigns.health import HealthHistory
from campaigns.health_lines import BOUNCE_LIMIT, BOUNCE_WARN, COMPLAINT_LIMIT, COMPLAINT_WARN
from campaigns.reports import CampaignReport

WIDTH = 640
LABEL_WIDTH = 230  # room for LABEL_CHARS characters at 12 px
VALUE_WIDTH = 70
BAR_HEIGHT = 16
BAR_GAP = 3
GROUP_GAP = 12
TOP = 34
LEGEND_HEIGHT = 18
LABEL_CHARS = 32
TEXT = "#1a202c"
MUTED = "#4a5568"
BLUE = "#2b6cb0"
ORANGE = "#c05621"
RED = "#c53030"
AMBER = "#b7791f"
LINE_LABEL_HEIGHT = 16
ROUND_STEPS = (1.0, 2.0, 2.5, 5.0, 10.0)
_COLOUR = re.compile(r"#[0-9a-fA-F]{6}")
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


@dataclass(frozen=True)
class Series:
    """One set of bars: a name for the legend, one value per category (``None``: no bar)."""

    name: str
    values: tuple[float | None, ...]
    colour: str = BLUE

    def __post_init__(self) -> None:
        if not _COLOUR.fullmatch(self.colour):
            raise ValueError(f"colour must be #rrggbb, not {self.colour!r}")


@dataclass(frozen=True)
class Line:
    """A vertical reference line across the bars (a limit such as Gmail's 0.3 %)."""

    value: float
    label: str
    colour: str = RED

    def __post_init__(self) -> None:
        if not _COLOUR.fullmatch(self.colour):
            raise ValueError(f"colour must be #rrggbb, not {self.colour!r}")


def _text(value: str) -> str:
    """``value`` fit for XML: escaped, no control characters."""
    return str(escape(_NOT_XML.sub("", value)))


def _short(label: str) -> str:
    label = " ".join(label.split())
    return label if len(label) <= LABEL_CHARS else label[: LABEL_CHARS - 1].rstrip() + "…"


def bar_chart(
    title: str,
    categories: Sequence[str],
    series: Sequence[Series],
    *,
    percent: bool = False,
    empty: str = "Nothing to show yet.",
    lines: Sequence[Line] = (),
) -> Markup:
    """A horizontal bar chart: one group of bars per category, one bar per series.

    Bars scale to the data: the longest bar is the largest value rounded up to a round
    number (:func:`axis_max`), which the chart states under its title ("scale: 0–25 %"),
    so that 2 % and 3 % click rates do not both look like nothing. Every bar has its figure
    as text beside it. ``percent``: values are fractions (0.125) shown as percentages
    (under 1 % with two decimals: 0.15 %). ``lines`` are drawn
    across the bars with their labels; the scale always reaches the highest of them, so a
    limit is on the chart even when every bar is far below it.
    """
    for one in series:
        if len(one.values) != len(categories):
            raise ValueError(
                f"series {one.name!r} has {len(one.values)} values for {len(categories)} categories"
            )
    top = TOP + (LEGEND_HEIGHT if len(series) > 1 else 0) + (LINE_LABEL_HEIGHT if lines else 0)
    group = len(series) * (BAR_HEIGHT + BAR_GAP) - BAR_GAP
    height = top + max(len(categories), 1) * (group + GROUP_GAP) + 4
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{WIDTH}" height="{height}" '
        f'viewBox="0 0 {WIDTH} {height}" font-family="system-ui, -apple-system, Segoe UI, '
        f'Roboto, sans-serif" font-size="12" aria-label="{_text(title)}">',
        f"<title>{_text(title)}</title>",
        f'<text x="0" y="16" font-size="14" font-weight="600" fill="{TEXT}">{_text(title)}</text>',
    ]
    if len(series) > 1:
        parts += _legend(series)
    if not categories or not series:
        parts.append(f'<text x="0" y="{top + 14}" fill="{MUTED}">{_text(empty)}</text>')
    else:
        values = [v for one in series for v in one.values if v is not None]
        values += [line.value for line in lines]
        scale = axis_max(max(values, default=0.0), percent)
        if scale > 0:
            parts.append(
                f'<text x="{WIDTH}" y="16" text-anchor="end" fill="{MUTED}" class="scale">'
                f"scale: 0–{_round(scale, percent)}</text>"
            )
        parts += _bars(categories, series, top, group, percent, scale)
        parts += _lines(lines, top, height, percent, scale)
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704  (every text above went through _text)


def _legend(series: Sequence[Series]) -> list[str]:
    parts, x = [], 0
    for one in series:
        parts.append(f'<rect x="{x}" y="{TOP - 8}" width="10" height="10" fill="{one.colour}"/>')
        parts.append(f'<text x="{x + 14}" y="{TOP + 1}" fill="{TEXT}">{_text(one.name)}</text>')
        x += 24 + 7 * len(one.name)
    return parts


def axis_max(largest: float, percent: bool) -> float:
    """The round number the longest bar stands for: 1, 2, 2.5 or 5 times a power of ten at
    or above ``largest`` (0 when there is nothing to draw); a rate's axis stops at 100 %."""
    if largest <= 0:
        return 0.0
    power = 10.0 ** math.floor(math.log10(largest))
    top = next(step * power for step in ROUND_STEPS if largest <= step * power * (1 + 1e-9))
    return min(top, 1.0) if percent else top


def _format(value: float | None, percent: bool) -> str:
    if value is None:
        return "–"
    if percent:
        return f"{value * 100:.2f} %" if 0 < value < 0.01 else f"{value * 100:.1f} %"
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.1f}"


def _round(value: float, percent: bool) -> str:
    """An axis end as people write it: ``25 %``, ``2.5 %``, ``1,000``."""
    return f"{value * 100:g} %" if percent else f"{value:,g}"


def _bars(
    categories: Sequence[str],
    series: Sequence[Series],
    top: int,
    group: int,
    percent: bool,
    scale: float,
) -> list[str]:
    area = WIDTH - LABEL_WIDTH - VALUE_WIDTH
    parts: list[str] = []
    for row, category in enumerate(categories):
        y = top + row * (group + GROUP_GAP)
        parts.append(
            f'<text x="{LABEL_WIDTH - 8}" y="{y + group / 2 + 4:.1f}" text-anchor="end" '
            f'fill="{TEXT}"><title>{_text(category)}</title>{_text(_short(category))}</text>'
        )
        for position, one in enumerate(series):
            value = one.values[row]
            bar_y = y + position * (BAR_HEIGHT + BAR_GAP)
            length = 0.0 if not value or scale <= 0 else min(value / scale, 1.0) * area
            label = _format(value, percent)
            parts.append(
                f'<rect x="{LABEL_WIDTH}" y="{bar_y}" width="{length:.1f}" height="{BAR_HEIGHT}" '
                f'fill="{one.colour}"><title>{_text(one.name)}: {_text(label)}</title></rect>'
            )
            parts.append(
                f'<text x="{LABEL_WIDTH + length + 4:.1f}" y="{bar_y + BAR_HEIGHT - 4}" '
                f'fill="{MUTED}">{_text(label)}</text>'
            )
    return parts


def _lines(lines: Sequence[Line], top: int, height: int, percent: bool, scale: float) -> list[str]:
    """Each reference line, dashed, from just above the bars to the bottom. The lowest is
    labelled to its left, the others to their right, so two close lines' labels never meet."""
    area = WIDTH - LABEL_WIDTH - VALUE_WIDTH
    parts: list[str] = []
    for position, line in enumerate(sorted(lines, key=lambda one: one.value)):
        x = LABEL_WIDTH + min(line.value / scale, 1.0) * area
        text = f"{_text(line.label)} ({_round(line.value, percent)})"
        anchor, shift = ("end", -3) if position == 0 else ("start", 3)
        parts.append(
            f'<line x1="{x:.1f}" y1="{top - 14}" x2="{x:.1f}" y2="{height - 2}" '
            f'stroke="{line.colour}" stroke-width="1.5" stroke-dasharray="4 3" class="limit">'
            f"<title>{text}</title></line>"
        )
        parts.append(
            f'<text x="{x + shift:.1f}" y="{top - 6}" text-anchor="{anchor}" '
            f'fill="{line.colour}" font-size="11">{text}</text>'
        )
    return parts


# --- the report's charts -----------------------------------------------------------------


def segment_rates_chart(report: CampaignReport) -> Markup:
    """Open and click rate of each segment (the campaign's variants)."""
    segments = report.segments
    return bar_chart(
        f"Opens and clicks by segment (of {report.totals.rate_base})",
        [s.segment for s in segments],
        [
            Series("open rate", tuple(s.figures.open_rate for s in segments), BLUE),
            Series("click rate", tuple(s.figures.click_rate for s in segments), ORANGE),
        ],
        percent=True,
    )


def brief_clicks_chart(report: CampaignReport) -> Markup:
    """Human clicks on each brief's links, and how many readers clicked them."""
    briefs = report.briefs
    return bar_chart(
        "Clicks by brief",
        [b.title or b.brief_slug for b in briefs],
        [
            Series("clicks", tuple(float(b.clicks) for b in briefs), BLUE),
            Series("readers who clicked", tuple(float(b.clickers) for b in briefs), ORANGE),
        ],
        empty="No brief in this campaign.",
    )


def narrative_clicks_chart(report: CampaignReport) -> Markup:
    """Human clicks on the sources cited in each narrative (brief · narrative label)."""
    narratives = report.narratives
    return bar_chart(
        "Clicks by narrative",
        [f"{n.narrative} · {n.brief_slug}" for n in narratives],
        [Series("clicks", tuple(float(n.clicks) for n in narratives), BLUE)],
        empty="No narrative links in this campaign.",
    )


def report_charts(report: CampaignReport) -> dict[str, Markup]:
    """Every chart of a report, by name: ``segments``, ``briefs``, ``narratives``."""
    return {
        "segments": segment_rates_chart(report),
        "briefs": brief_clicks_chart(report),
        "narratives": narrative_clicks_chart(report),
    }


# --- the list's health over time ---------------------------------------------------------


def complaint_chart(history: HealthHistory) -> Markup:
    """Complaint rate of each campaign (week, month) against Gmail's 0.1 % and 0.3 % lines."""
    lines = (Line(COMPLAINT_WARN, "Gmail's advice", AMBER), Line(COMPLAINT_LIMIT, "Gmail's limit"))
    return _rate_chart(history, "complaint", ORANGE, lines)


def bounce_chart(history: HealthHistory) -> Markup:
    """Bounce rate (of sent) of each campaign (week, month) against the 2 % and 5 % lines."""
    lines = (Line(BOUNCE_WARN, "warning", AMBER), Line(BOUNCE_LIMIT, "limit"))
    return _rate_chart(history, "bounce", BLUE, lines)


def _rate_chart(history: HealthHistory, rate: str, colour: str, lines: tuple[Line, ...]) -> Markup:
    """One rate (``complaint`` → ``complaint_rate``) of every row, with its lines."""
    rows = history.rows
    values = tuple(getattr(row.figures, f"{rate}_rate") for row in rows)
    return bar_chart(
        f"{rate.capitalize()} rate by {history.by.value}",
        [row.label for row in rows],
        [Series(f"{rate} rate", values, colour)],
        percent=True,
        lines=lines,
        empty="No campaign has started sending yet.",
    )


def health_charts(history: HealthHistory) -> dict[str, Markup]:
    """The health page's charts, by name: ``complaints``, ``bounces``."""
    return {"complaints": complaint_chart(history), "bounces": bounce_chart(history)}
