"""List health over time: bounce, complaint and unsubscribe rates of the last campaigns,
weeks or months against the lines of :mod:`campaigns.health_lines`, with the readers lapsed
at each date.

The rates are those of :class:`campaigns.reports.Figures`: bounces of *sent*, complaints and
unsubscribes of delivered (or of sent where the provider reports no deliveries).
:func:`health_history` is bounded: the last ``last`` campaigns, weeks or months, read with
the same grouped queries as :func:`campaigns.reports.started_campaigns` limited to them,
and one lapsed count per row (:func:`subscribers.lapse.lapsed_counts`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from campaigns.health_lines import LINES, Health, health_of
from campaigns.reports import CampaignSummary, Figures, started_campaigns, sum_figures
from newsletter.db import utcnow
from subscribers.lapse import lapsed_counts

MAX_PERIODS = 520  # ten years of weeks: the history is bounded whatever is asked


class HealthPeriod(StrEnum):
    """What one row of the history covers."""

    campaign = "campaign"
    week = "week"
    month = "month"


@dataclass(frozen=True)
class HealthRow:
    """One campaign, week or month: its sending, its rates and the lapsed readers then.

    ``lapsed_at`` is the moment ``lapsed`` counts at: a campaign's start, or a period's end
    (now, for the period still going)."""

    label: str
    campaign_id: int | None
    start: datetime
    campaigns: int
    figures: Figures
    health: Health
    lapsed: int
    lapsed_at: datetime


@dataclass(frozen=True)
class HealthHistory:
    """The last ``last`` campaigns, weeks or months, oldest first."""

    by: HealthPeriod
    last: int
    timezone: str
    generated_at: datetime
    rows: tuple[HealthRow, ...]

    def as_dict(self) -> dict[str, Any]:
        """JSON-able data: times in ISO 8601, rates as fractions, each verdict with its text."""
        return {
            "by": self.by.value,
            "last": self.last,
            "timezone": self.timezone,
            "generated_at": self.generated_at.isoformat(),
            "lines": LINES,
            "rows": [row_dict(row) for row in self.rows],
        }


HEALTH_COLUMNS = (
    "label",
    "campaign_id",
    "start",
    "campaigns",
    "sent",
    "delivered",
    "rate_base",
    "bounced",
    "complained",
    "unsubscribed",
    "bounce_rate",
    "bounce_status",
    "complaint_rate",
    "complaint_status",
    "unsubscribe_rate",
    "lapsed",
    "lapsed_at",
)


def row_dict(row: HealthRow) -> dict[str, Any]:
    """One row as flat JSON-able data (also the CSV columns)."""
    f = row.figures
    return {
        "label": row.label,
        "campaign_id": row.campaign_id,
        "start": row.start.isoformat(),
        "campaigns": row.campaigns,
        "sent": f.sent,
        "delivered": f.delivered if f.rate_base == "delivered" else None,
        "rate_base": f.rate_base,
        "bounced": f.bounced,
        "complained": f.complained,
        "unsubscribed": f.unsubscribed,
        "bounce_rate": f.bounce_rate,
        "bounce_status": row.health.bounce.level.value,
        "complaint_rate": f.complaint_rate,
        "complaint_status": row.health.complaint.level.value,
        "unsubscribe_rate": f.unsubscribe_rate,
        "lapsed": row.lapsed,
        "lapsed_at": row.lapsed_at.isoformat(),
    }


def health_history(
    session: Session,
    *,
    by: HealthPeriod = HealthPeriod.campaign,
    last: int = 12,
    timezone: str = "UTC",
    now: datetime | None = None,
) -> HealthHistory:
    """The list's health over the last ``last`` campaigns (or weeks, months in ``timezone``),
    oldest first; weeks and months with no campaign are rows of zeros, so gaps show."""
    if not 1 <= last <= MAX_PERIODS:
        raise ValueError(f"last must be between 1 and {MAX_PERIODS}, not {last}")
    now = now or utcnow()
    zone = ZoneInfo(timezone)
    if by is HealthPeriod.campaign:
        rows = _campaign_rows(session, started_campaigns(session, limit=last)[::-1])
    else:
        starts = _period_starts(by, last, now, zone)
        summaries = started_campaigns(session, since=starts[0])
        rows = _period_rows(session, by, starts, summaries, now, zone)
    return HealthHistory(by, last, timezone, now, tuple(rows))


def _campaign_rows(session: Session, summaries: Sequence[CampaignSummary]) -> list[HealthRow]:
    moments = [s.started_at or utcnow() for s in summaries]
    lapsed = lapsed_counts(session, moments)
    return [
        HealthRow(s.name, s.campaign_id, at, 1, s.totals, health_of(s.totals), count, at)
        for s, at, count in zip(summaries, moments, lapsed, strict=True)
    ]


def _period_rows(
    session: Session,
    by: HealthPeriod,
    starts: Sequence[datetime],
    summaries: Sequence[CampaignSummary],
    now: datetime,
    zone: ZoneInfo,
) -> list[HealthRow]:
    ends = [*starts[1:], _next_start(by, starts[-1], zone)]
    moments = [min(end, now) for end in ends]
    lapsed = lapsed_counts(session, moments)
    rows = []
    for start, end, at, count in zip(starts, ends, moments, lapsed, strict=True):
        members = [s for s in summaries if s.started_at and start <= s.started_at < end]
        figures = _added_up([s.totals for s in members])
        label = _period_label(by, start, zone)
        rows.append(
            HealthRow(label, None, start, len(members), figures, health_of(figures), count, at)
        )
    return rows


def _added_up(totals: Sequence[Figures]) -> Figures:
    """Several campaigns' totals: rates of delivered only when every one reports deliveries
    (adding delivered counts of providers that report none would understate every rate)."""
    if totals and all(t.rate_base == "delivered" for t in totals):
        return sum_figures(totals, "delivered")
    return sum_figures((dataclasses.replace(t, rate_base="sent") for t in totals), "sent")


def _local_start(day: date, zone: ZoneInfo) -> datetime:
    """Midnight of ``day`` where the editors are, in UTC (as times are stored)."""
    return datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)


def _period_starts(by: HealthPeriod, last: int, now: datetime, zone: ZoneInfo) -> list[datetime]:
    """The starts of the last ``last`` weeks (Mondays) or months, the current one last."""
    today = now.astimezone(zone).date()
    if by is HealthPeriod.week:
        monday = today - timedelta(days=today.weekday())
        days = [monday - timedelta(weeks=back) for back in range(last - 1, -1, -1)]
    else:
        index = today.year * 12 + today.month - 1
        days = [date(i // 12, i % 12 + 1, 1) for i in range(index - last + 1, index + 1)]
    return [_local_start(day, zone) for day in days]


def _next_start(by: HealthPeriod, start: datetime, zone: ZoneInfo) -> datetime:
    day = start.astimezone(zone).date()
    if by is HealthPeriod.week:
        return _local_start(day + timedelta(weeks=1), zone)
    month = day.year * 12 + day.month
    return _local_start(date(month // 12, month % 12 + 1, 1), zone)


def _period_label(by: HealthPeriod, start: datetime, zone: ZoneInfo) -> str:
    day = start.astimezone(zone).date()
    if by is HealthPeriod.week:
        year, week, _ = day.isocalendar()
        return f"{year}-W{week:02d}"
    return f"{day.year}-{day.month:02d}"
