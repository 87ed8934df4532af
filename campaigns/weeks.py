"""ISO weeks ('2026-W48') as the weekly digest uses them: a name and a UTC time range."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from newsletter.db import utcnow
from newsletter.errors import NewsletterError

_WEEK = re.compile(r"^(?P<year>\d{4})-?W(?P<week>\d{2})$")


FIRST_YEAR, LAST_YEAR = 2000, 2999  # as a campaign's send time (the editor's form)


class InvalidWeek(NewsletterError):
    """A week was not written as an ISO week such as 2026-W48."""


@dataclass(frozen=True)
class IsoWeek:
    year: int
    week: int

    @classmethod
    def parse(cls, text: str) -> IsoWeek:
        match = _WEEK.match(text.strip().upper())
        if match is None:
            raise InvalidWeek(f"{text!r} is not an ISO week: write it like 2026-W48")
        year, week = int(match["year"]), int(match["week"])
        if not FIRST_YEAR <= year <= LAST_YEAR:  # a digest's dates must stay computable
            raise InvalidWeek(f"{text.strip()!r}: a digest's week is in {FIRST_YEAR}–{LAST_YEAR}")
        try:
            date.fromisocalendar(year, week, 1)
        except ValueError as exc:
            raise InvalidWeek(f"{year} has no week {week}") from exc
        return cls(year, week)

    @classmethod
    def of(cls, moment: datetime | date) -> IsoWeek:
        year, week, _ = moment.isocalendar()
        return cls(year, week)

    @classmethod
    def current(cls) -> IsoWeek:
        return cls.of(utcnow())

    @property
    def monday(self) -> date:
        return date.fromisocalendar(self.year, self.week, 1)

    @property
    def start(self) -> datetime:
        """Monday 00:00 UTC."""
        return datetime.combine(self.monday, time(0), tzinfo=UTC)

    @property
    def end(self) -> datetime:
        """The next Monday 00:00 UTC (exclusive)."""
        return self.start + timedelta(days=7)

    @property
    def previous(self) -> IsoWeek:
        return IsoWeek.of(self.monday - timedelta(days=7))

    def __str__(self) -> str:
        return f"{self.year}-W{self.week:02d}"
