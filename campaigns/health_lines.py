"""The lines a list's rates are judged against: Gmail's complaint lines and bounce lines.

Gmail's sender guidelines ask bulk senders to keep the spam-complaint rate under 0.1 % and
never reach 0.3 %: at or above it mail goes to spam or is refused. A bounce rate of 2 % of
sent mail is where list hygiene needs looking at, and 5 % is where providers start to
throttle or block (and where ESPs such as SendGrid and Mailchimp review an account).
docs/deliverability.md explains each line. The campaign report, the health history
(:mod:`campaigns.health`) and the preflight's complaint check all judge by these.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from campaigns.reports import Figures

COMPLAINT_LIMIT = 0.003  # Gmail: at or above it, mail goes to spam or is refused
COMPLAINT_WARN = 0.001  # Gmail: stay below it
BOUNCE_LIMIT = 0.05  # providers throttle or block, ESPs review the account
BOUNCE_WARN = 0.02  # the list needs cleaning


class Level(StrEnum):
    """Where a rate stands against its lines."""

    OK = "ok"
    WARNING = "warning"
    OVER = "over"
    UNKNOWN = "unknown"  # nothing sent (or delivered) to judge by


@dataclass(frozen=True)
class Verdict:
    """A rate, its level and the sentence that says why."""

    rate: float | None
    level: Level
    text: str


@dataclass(frozen=True)
class RateLines:
    """A warning line and a limit, and what a verdict says below, between and above them."""

    warning: float
    limit: float
    under: str
    between: str
    over: str

    def judge(self, rate: float | None) -> Verdict:
        if rate is None:
            return Verdict(rate, Level.UNKNOWN, "no mail to judge by")
        if rate >= self.limit:
            return Verdict(rate, Level.OVER, self.over)
        if rate >= self.warning:
            return Verdict(rate, Level.WARNING, self.between)
        return Verdict(rate, Level.OK, self.under)


COMPLAINTS = RateLines(
    COMPLAINT_WARN,
    COMPLAINT_LIMIT,
    under="under Gmail's 0.1 % advice",
    between="warning: at or above Gmail's 0.1 % advice",
    over="over Gmail's 0.3 % limit",
)
BOUNCES = RateLines(
    BOUNCE_WARN,
    BOUNCE_LIMIT,
    under="under 2 %",
    between="warning: at or above 2 %, clean the list",
    over="over the 5 % limit: providers throttle or block",
)


def complaint_verdict(rate: float | None) -> Verdict:
    """A complaint rate against Gmail's 0.1 % advice and 0.3 % limit."""
    return COMPLAINTS.judge(rate)


def bounce_verdict(rate: float | None) -> Verdict:
    """A bounce rate (of sent) against the 2 % warning and 5 % limit."""
    return BOUNCES.judge(rate)


@dataclass(frozen=True)
class Health:
    """One campaign's (or period's) list health."""

    bounce: Verdict
    complaint: Verdict
    unsubscribe_rate: float | None

    @property
    def level(self) -> Level:
        """The worse of the two verdicts."""
        order = (Level.UNKNOWN, Level.OK, Level.WARNING, Level.OVER)
        return max((self.bounce.level, self.complaint.level), key=order.index)


def health_of(figures: Figures) -> Health:
    """The health verdicts of a campaign's (or segment's) figures."""
    return Health(
        bounce_verdict(figures.bounce_rate),
        complaint_verdict(figures.complaint_rate),
        figures.unsubscribe_rate,
    )


LINES = {
    "complaint_warning": COMPLAINT_WARN,
    "complaint_limit": COMPLAINT_LIMIT,
    "bounce_warning": BOUNCE_WARN,
    "bounce_limit": BOUNCE_LIMIT,
}
