"""The weeks an editor may make a digest of (this week and last week), each with its brief
count and, once made, its campaign and what is new since it was created."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy.orm import Session

from campaigns.digest import find_digest, left_out_of, select_briefs
from campaigns.service import can
from campaigns.weeks import IsoWeek
from newsletter.config import Settings


@dataclass(frozen=True)
class WeekOffer:
    """One week's digest as the editor is offered it."""

    week: IsoWeek
    label: str  # "this week" or "last week"
    brief_count: int  # what its digest would hold, or holds once made
    campaign_id: int | None = None
    status: str | None = None
    new_count: int = 0  # briefs marked ready since the digest was created

    @property
    def made(self) -> bool:
        return self.campaign_id is not None


def digest_weeks(session: Session, today: date, settings: Settings) -> list[WeekOffer]:
    """This week and last week (``today`` is the editors' local day), newest first."""
    this_week = IsoWeek.of(today)
    return [
        _offer(session, this_week, "this week", settings),
        _offer(session, this_week.previous, "last week", settings),
    ]


def _offer(session: Session, week: IsoWeek, label: str, settings: Settings) -> WeekOffer:
    campaign = find_digest(session, week)
    if campaign is None:
        selection = select_briefs(session, week, grace_days=settings.digest_grace_days)
        return WeekOffer(week, label, len(selection.chosen))
    new = 0
    if can(campaign, "edit"):  # a sent digest is history: nothing can join it
        new = sum(1 for item in left_out_of(session, campaign, settings) if item.new)
    return WeekOffer(week, label, len(campaign.briefs), campaign.id, campaign.status, new)
