"""The weekly digest: one campaign per ISO week from the ready briefs updated that week.

"That week" has a grace (``NEWSLETTER_DIGEST_GRACE_DAYS``, 7 by default) so that a brief
updated on the Sunday a digest went out still reaches readers; a brief is not sent in two
consecutive digests unless it was updated after the first. Ready briefs left out are named
with the reason, so an editor sees the old brief that was marked ready by mistake (or on
purpose, and then includes it explicitly).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from campaigns.model import Campaign, CampaignBrief
from campaigns.service import (
    CampaignDraft,
    can,
    create_campaign,
    get_campaign,
    local_day,
    require_status,
    schedule_campaign,
)
from campaigns.states import CampaignStatus
from campaigns.weeks import IsoWeek
from newsletter.briefs.model import BriefRow
from newsletter.briefs.store import brief_slugs
from newsletter.config import Settings, get_settings
from newsletter.db import Database, utcnow
from newsletter.errors import ConflictError, NotFoundError
from newsletter.render.environment import long_date
from newsletter.suggest import did_you_mean

# The top story leads (a phone shows the first ~40 characters); name and date follow.
DIGEST_SUBJECT = "{{ first_title }} · {{ newsletter_name }} weekly, {{ issue_date|long_date }}"


@dataclass(frozen=True)
class LeftOut:
    """A ready brief the week's digest does not hold, and why (for the editor's warnings)."""

    slug: str
    title: str
    reason: str
    new: bool = False  # marked ready after the digest was created: one click adds it


@dataclass(frozen=True)
class DigestResult:
    campaign_id: int
    created: bool
    week: IsoWeek
    brief_slugs: tuple[str, ...]
    left_out: tuple[LeftOut, ...] = ()

    @property
    def new(self) -> tuple[LeftOut, ...]:
        """The briefs marked ready since the digest was created (it does not hold them)."""
        return tuple(item for item in self.left_out if item.new)


@dataclass(frozen=True)
class Selection:
    chosen: list[BriefRow]
    left_out: list[LeftOut]


def window_start(week: IsoWeek, grace_days: int) -> date:
    """The first ``updated`` day a brief of ``week``'s digest may carry."""
    return week.monday - timedelta(days=grace_days)


def select_briefs(
    session: Session,
    week: IsoWeek,
    *,
    grace_days: int,
    include: Sequence[str] = (),
    campaign_id: int | None = None,
) -> Selection:
    """The briefs of ``week``'s digest, newest story first, and the ready ones left out.

    A brief belongs to the week when it is ready and its ``updated`` day falls in the week
    or the ``grace_days`` before it, and no other digest (not cancelled) holds it already,
    unless it was updated after that digest's issue date. ``include`` names briefs to take
    whatever their date. Left out, with the reason, are the ready briefs an editor may have
    expected: marked ready since the window began, or in the window but already sent.
    ``campaign_id`` is the week's own digest, whose briefs never count as "in another".
    """
    since = window_start(week, grace_days)
    until = week.end.date()
    rows = list(
        session.scalars(
            select(BriefRow)
            .where(
                BriefRow.status == "ready",
                or_(
                    BriefRow.updated >= since,
                    BriefRow.ready_at >= datetime.combine(since, time(0), tzinfo=UTC),
                    BriefRow.slug.in_(include),
                ),
            )
            .order_by(BriefRow.updated.desc(), BriefRow.ready_at, BriefRow.slug)
        )
    )
    _require_included(session, rows, include)
    earlier = _other_digests(session, [r.id for r in rows], campaign_id)
    chosen: list[BriefRow] = []
    left_out: list[LeftOut] = []
    for row in rows:
        if row.updated >= until and row.slug not in include:
            continue  # a later week's story
        reason = _reason_to_leave_out(row, since, earlier.get(row.id))
        if reason is None or row.slug in include:
            chosen.append(row)
        else:
            left_out.append(LeftOut(row.slug, row.title, reason))
    return Selection(chosen, left_out)


def _reason_to_leave_out(
    row: BriefRow, since: date, earlier: tuple[str, date] | None
) -> str | None:
    if row.updated < since:
        return f"stale: updated on {long_date(row.updated)}"
    if earlier is not None and row.updated <= earlier[1]:
        return f"in the digest of {earlier[0]} already"
    return None


def _require_included(session: Session, rows: list[BriefRow], include: Sequence[str]) -> None:
    found = {r.slug for r in rows}
    for slug in include:
        if slug in found:
            continue
        status = session.scalar(select(BriefRow.status).where(BriefRow.slug == slug))
        if status is None:
            hint = did_you_mean(slug, brief_slugs(session))
            raise NotFoundError(f"no brief with slug {slug!r}{hint} to include")
        raise ConflictError(f"brief {slug!r} is {status}: mark it ready before including it")


def _other_digests(
    session: Session, brief_ids: list[int], campaign_id: int | None
) -> dict[int, tuple[str, date]]:
    """Per brief, the latest other digest (not cancelled) holding it: (week, issue date)."""
    query = (
        select(CampaignBrief.brief_id, Campaign.digest_week, Campaign.issue_date)
        .join(Campaign, Campaign.id == CampaignBrief.campaign_id)
        .where(
            CampaignBrief.brief_id.in_(brief_ids),
            Campaign.kind == "digest",
            Campaign.status != CampaignStatus.CANCELLED,
        )
        .order_by(Campaign.issue_date)
    )
    if campaign_id is not None:
        query = query.where(Campaign.id != campaign_id)
    return {brief_id: (str(week), day) for brief_id, week, day in session.execute(query)}


def find_digest(session: Session, week: IsoWeek) -> Campaign | None:
    return session.scalar(select(Campaign).where(Campaign.digest_week == str(week)))


def left_out_of(session: Session, campaign: Campaign, settings: Settings) -> list[LeftOut]:
    """What a digest campaign does not hold of its week's ready briefs, and why."""
    if campaign.digest_week is None:
        return []
    week = IsoWeek.parse(campaign.digest_week)
    selection = select_briefs(
        session, week, grace_days=settings.digest_grace_days, campaign_id=campaign.id
    )
    held = {b.brief_id for b in campaign.briefs}
    missing = [_missing(r, campaign) for r in selection.chosen if r.id not in held]
    missing.sort(key=lambda item: not item.new)  # what is new comes first
    slugs_held = set(session.scalars(select(BriefRow.slug).where(BriefRow.id.in_(held))))
    return missing + [item for item in selection.left_out if item.slug not in slugs_held]


def _missing(row: BriefRow, campaign: Campaign) -> LeftOut:
    """A brief of the week the digest does not hold: new since it was made, or taken out."""
    ready_at = row.ready_at or row.created_at
    if ready_at > campaign.created_at:
        return LeftOut(row.slug, row.title, "new since you created this", new=True)
    return LeftOut(row.slug, row.title, "taken out of this campaign")


def add_new_briefs(session: Session, campaign_id: int, settings: Settings) -> list[str]:
    """Refresh a digest that has not started: add every brief marked ready since it was
    created (newest-first order kept); returns their slugs."""
    campaign = get_campaign(session, campaign_id, lock=True)
    new = [item.slug for item in left_out_of(session, campaign, settings) if item.new]
    for slug in new:
        include_brief(session, campaign_id, slug)
    return new


def include_brief(session: Session, campaign_id: int, slug: str) -> Campaign:
    """Add a ready brief to a campaign that has not started, on an editor's explicit choice
    (a brief the digest left out); its place follows the campaign's newest-first order."""
    campaign = get_campaign(session, campaign_id, lock=True)
    row = session.scalar(select(BriefRow).where(BriefRow.slug == slug))
    if row is None:
        hint = did_you_mean(slug, brief_slugs(session))
        raise NotFoundError(f"no brief with slug {slug!r}{hint} to include")
    held = [b.brief_id for b in campaign.briefs]
    if row.id in held:
        return campaign
    require_status(campaign, "edit")
    if not can(campaign, "edit"):
        raise ConflictError(f"campaign {campaign.id} is frozen: what it sends can no longer change")
    if row.status != "ready":
        raise ConflictError(f"brief {slug!r} is {row.status}: mark it ready before including it")
    rows = {r.id: r for r in session.scalars(select(BriefRow).where(BriefRow.id.in_(held)))}
    ordered = sorted([*rows.values(), row], key=lambda r: r.updated, reverse=True)
    campaign.briefs.clear()
    session.flush()  # delete the old rows before new ones take their positions
    campaign.briefs.extend(CampaignBrief(position=i, brief_id=r.id) for i, r in enumerate(ordered))
    session.flush()
    return campaign


def create_weekly_digest(
    database: Database,
    week: IsoWeek,
    *,
    settings: Settings | None = None,
    segment_names: tuple[str, ...] = (),
    send_at: datetime | None = None,
    include: Sequence[str] = (),
) -> DigestResult:
    """The week's digest campaign, created if it does not exist yet (idempotent per week).

    It is dated by the day it is sent (scheduled, or today until it starts); freezing
    dates it again by the day it really starts."""
    settings = settings or get_settings()
    with database.transaction() as session:
        existing = find_digest(session, week)
        if existing is not None:
            for slug in include:
                include_brief(session, existing.id, slug)
            return _result(session, existing, created=False, week=week, settings=settings)
        selection = select_briefs(
            session, week, grace_days=settings.digest_grace_days, include=include
        )
        if not selection.chosen:
            raise NotFoundError(_nothing_to_digest(week, settings, selection.left_out))
        draft = CampaignDraft(
            name=f"Weekly digest {week}",
            brief_slugs=[b.slug for b in selection.chosen],
            segment_names=segment_names,
            subject=DIGEST_SUBJECT,
            issue_date=local_day(send_at or utcnow(), settings),
        )
        try:
            with session.begin_nested():
                campaign = create_campaign(session, draft, kind="digest", digest_week=str(week))
        except IntegrityError:  # another process created it a moment ago
            existing = find_digest(session, week)
            assert existing is not None
            return _result(session, existing, created=False, week=week, settings=settings)
        if send_at is not None:
            schedule_campaign(session, campaign.id, send_at, settings)
        return _result(session, campaign, created=True, week=week, settings=settings)


def _nothing_to_digest(week: IsoWeek, settings: Settings, left_out: list[LeftOut]) -> str:
    since = window_start(week, settings.digest_grace_days)
    message = (
        f"no ready brief was updated in {week} or the {settings.digest_grace_days} days "
        f"before ({long_date(since)} – {long_date(week.end.date() - timedelta(days=1))}): "
        "nothing to digest"
    )
    if left_out:
        message += "; left out: " + "; ".join(f"{i.slug} ({i.reason})" for i in left_out)
        message += " (include one on purpose with --include SLUG)"
    return message


def _result(
    session: Session, campaign: Campaign, *, created: bool, week: IsoWeek, settings: Settings
) -> DigestResult:
    ids = [b.brief_id for b in campaign.briefs]
    slugs = dict(
        session.execute(select(BriefRow.id, BriefRow.slug).where(BriefRow.id.in_(ids))).all()
    )
    left_out = tuple(left_out_of(session, campaign, settings))
    return DigestResult(campaign.id, created, week, tuple(slugs[i] for i in ids), left_out)
