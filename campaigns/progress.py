"""How far a send has got, how fast it goes and how long it has left, from its status counts.

Computed from the per-status counts the campaign page and the API already read (one grouped
query), so a page polled every few seconds during a million-recipient send costs nothing
more. The rate here is the average since sending started; a page that polls can measure the
current rate from two of its own readings (``templates/web/static/editor.js`` does).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from campaigns.states import CampaignStatus, DeliveryStatus

WAITING = (DeliveryStatus.QUEUED, DeliveryStatus.SENDING)


@dataclass(frozen=True)
class SendProgress:
    """One campaign's deliveries: settled (sent, failed, unknown, skipped) against all."""

    total: int
    settled: int
    waiting: int
    rate: float | None  # settled per second on average since sending started
    seconds_left: float | None  # at that rate; None when not sending or nothing to go by

    @property
    def percent(self) -> float:
        return 100.0 * self.settled / self.total if self.total else 0.0

    @property
    def time_left(self) -> str:
        return time_left_words(self.seconds_left)

    @property
    def rate_text(self) -> str:
        """The rate as shown: one decimal below 10 a second (a slow relay is not "0")."""
        if self.rate is None:
            return ""
        return f"{self.rate:,.1f}" if self.rate < 10 else f"{self.rate:,.0f}"


def send_progress(
    counts: Mapping[str, int],
    status: str,
    started_at: datetime | None,
    now: datetime,
) -> SendProgress:
    """The progress of a campaign with these delivery ``counts`` and campaign ``status``."""
    total = sum(counts.values())
    waiting = sum(counts.get(s, 0) for s in WAITING)
    settled = total - waiting
    rate = seconds_left = None
    if status == CampaignStatus.SENDING and started_at is not None and settled:
        elapsed = (now - started_at).total_seconds()
        if elapsed > 0:
            rate = settled / elapsed
            seconds_left = waiting / rate
    return SendProgress(total, settled, waiting, rate, seconds_left)


def time_left_words(seconds: float | None) -> str:
    """ "about 3 minutes" and the like; empty when there is nothing to say."""
    if seconds is None:
        return ""
    if seconds < 60:
        return "under a minute"
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"about {minutes} minute{'' if minutes == 1 else 's'}"
    hours, minutes = divmod(minutes, 60)
    words = f"about {hours} hour{'' if hours == 1 else 's'}"
    return words + (f" {minutes} minute{'' if minutes == 1 else 's'}" if minutes else "")
