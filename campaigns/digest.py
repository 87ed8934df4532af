"""The weekly digest: one campaign per ISO week from the briefs marked ready that week."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from campaigns.model import Campaign
from campaigns.service import CampaignDraft, create_campaign
from campaigns.weeks import IsoWeek
from newsletter.briefs.model import BriefRow
from newsletter.db import Database
from newsletter.errors import NotFoundError

# The top story leads (a phone shows the first ~40 characters); name and date follow.
DIGEST_SUBJECT = (
    "{{ first_title }} · {{ newsletter_name }} weekly, {{ issue_date.strftime('%d %B') }}"
)


@dataclass(frozen=True)
class DigestResult:
    campaign_id: int
    created: bool
    week: IsoWeek
    brief_slugs: tuple[str, ...]


def digest_briefs(session: Session, week: IsoWeek) -> list[BriefRow]:
    """Briefs marked ready during ``week``, newest story first.

    Newest first is the order a reader expects of a week in review; ties (same updated
    day) keep the order in which editors marked them ready.
    """
    query = (
        select(BriefRow)
        .where(
            BriefRow.status == "ready",
            BriefRow.ready_at >= week.start,
            BriefRow.ready_at < week.end,
        )
        .order_by(BriefRow.updated.desc(), BriefRow.ready_at, BriefRow.slug)
    )
    return list(session.scalars(query))


def find_digest(session: Session, week: IsoWeek) -> Campaign | None:
    return session.scalar(select(Campaign).where(Campaign.digest_week == str(week)))


def create_weekly_digest(
    database: Database,
    week: IsoWeek,
    *,
    segment_names: tuple[str, ...] = (),
    send_at: datetime | None = None,
) -> DigestResult:
    """The week's digest campaign, created if it does not exist yet (idempotent per week)."""
    with database.transaction() as session:
        existing = find_digest(session, week)
        if existing is not None:
            return _result(session, existing, created=False, week=week)
        briefs = digest_briefs(session, week)
        if not briefs:
            raise NotFoundError(
                f"no brief was marked ready in {week} "
                f"({week.start:%d %b} – {week.end:%d %b %Y}): nothing to digest"
            )
        draft = CampaignDraft(
            name=f"Weekly digest {week}",
            brief_slugs=[b.slug for b in briefs],
            segment_names=segment_names,
            subject=DIGEST_SUBJECT,
            send_at=send_at,
            issue_date=(send_at.date() if send_at else week.end.date()),
        )
        try:
            with session.begin_nested():
                campaign = create_campaign(session, draft, kind="digest", digest_week=str(week))
        except IntegrityError:  # another process created it a moment ago
            existing = find_digest(session, week)
            assert existing is not None
            return _result(session, existing, created=False, week=week)
        return _result(session, campaign, created=True, week=week)


def _result(session: Session, campaign: Campaign, *, created: bool, week: IsoWeek) -> DigestResult:
    ids = [b.brief_id for b in campaign.briefs]
    slugs = dict(
        session.execute(select(BriefRow.id, BriefRow.slug).where(BriefRow.id.in_(ids))).all()
    )
    return DigestResult(campaign.id, created, week, tuple(slugs[i] for i in ids))
