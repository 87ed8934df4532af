"""Create campaigns and move them through their life: schedule, pause, resume, cancel.

Every transition checks the current status and raises :class:`ConflictError` with a
sentence a person can act on; nothing here talks to a provider.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from jinja2 import TemplateSyntaxError
from jinja2.sandbox import SandboxedEnvironment
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from campaigns.checks import Check, record_override, require_startable
from campaigns.model import Campaign, CampaignBrief, CampaignSegment, Delivery, Variant
from campaigns.states import CampaignStatus, DeliveryStatus
from newsletter.briefs.document import Brief
from newsletter.briefs.model import BriefRow
from newsletter.briefs.store import brief_from_row, brief_slugs
from newsletter.config import Settings, get_settings
from newsletter.db import hold_write_lock, utcnow
from newsletter.errors import ConflictError, InvalidInput, NotFoundError
from newsletter.render.compile import subject_lines
from newsletter.render.context import CompileContext
from newsletter.render.environment import template_error
from newsletter.suggest import missing_names
from newsletter.untrusted import reject_nul
from subscribers.model import Segment

_DRAFT, _SCHEDULED, _SENDING, _PAUSED = (
    CampaignStatus.DRAFT,
    CampaignStatus.SCHEDULED,
    CampaignStatus.SENDING,
    CampaignStatus.PAUSED,
)
# The campaign statuses each action may start from.
_TRANSITIONS: dict[str, tuple[CampaignStatus, ...]] = {
    "schedule": (_DRAFT, _SCHEDULED),
    "pause": (_SCHEDULED, _SENDING),
    "resume": (_PAUSED,),
    "cancel": (_DRAFT, _SCHEDULED, _SENDING, _PAUSED),
    "start": (_DRAFT, _SCHEDULED, _PAUSED),
    "edit": (_DRAFT, _SCHEDULED, _PAUSED),
    "spread": (_DRAFT, _SCHEDULED, _SENDING, _PAUSED),
}
MAX_SPREAD_MINUTES = 7 * 24 * 60


@dataclass(frozen=True)
class CampaignDraft:
    """What a person decides when creating a campaign."""

    name: str
    brief_slugs: Sequence[str]
    segment_names: Sequence[str] = ()
    subject: str | None = None
    preheader: str | None = None
    send_at: datetime | None = None
    issue_date: date | None = None


def check_template(template: str | None, what: str) -> None:
    """Refuse a subject/preheader template Jinja cannot parse, naming the line."""
    if template is None:
        return
    try:
        SandboxedEnvironment().parse(template)
    except TemplateSyntaxError as exc:
        raise template_error(what, template, exc.lineno, exc.message or "invalid template") from exc


def create_campaign(
    session: Session,
    draft: CampaignDraft,
    *,
    kind: str = "manual",
    digest_week: str | None = None,
    settings: Settings | None = None,
) -> Campaign:
    """A new campaign in ``draft`` (or ``scheduled`` when ``send_at`` is given: then it must
    pass the checks of :mod:`campaigns.checks`, as :func:`schedule_campaign` does)."""
    name, briefs, segments = _checked_draft(session, draft)
    if draft.send_at is not None and draft.send_at.tzinfo is None:
        raise ConflictError("send_at needs a time zone (e.g. 2026-11-30T07:00:00+01:00)")
    campaign = Campaign(
        name=name,
        kind=kind,
        digest_week=digest_week,
        subject_template=draft.subject,
        preheader_template=draft.preheader,
        issue_date=draft.issue_date or (draft.send_at or utcnow()).date(),
        status=CampaignStatus.SCHEDULED if draft.send_at else CampaignStatus.DRAFT,
        send_at=draft.send_at,
        briefs=[CampaignBrief(position=i, brief_id=b.id) for i, b in enumerate(briefs)],
        segments=[CampaignSegment(position=i, segment_id=s.id) for i, s in enumerate(segments)],
    )
    session.add(campaign)
    session.flush()
    if draft.send_at is not None:
        require_startable(campaign, campaign_briefs(session, campaign), settings or get_settings())
    return campaign


def update_campaign(session: Session, campaign_id: int, draft: CampaignDraft) -> Campaign:
    """Change what a campaign that has not started holds: name, briefs, segments, words.

    Its schedule is left alone (``schedule_campaign`` changes it); ``issue_date`` changes
    only when the draft gives one.
    """
    campaign = get_campaign(session, campaign_id, lock=True)
    require_status(campaign, "edit")
    if campaign.frozen_at is not None:
        raise ConflictError(f"campaign {campaign.id} is frozen: what it sends can no longer change")
    name, briefs, segments = _checked_draft(session, draft)
    campaign.name = name
    campaign.subject_template = draft.subject
    campaign.preheader_template = draft.preheader
    if draft.issue_date is not None:
        campaign.issue_date = draft.issue_date
    campaign.briefs.clear()
    campaign.segments.clear()
    session.flush()  # delete the old rows before new ones take their positions
    campaign.briefs.extend(CampaignBrief(position=i, brief_id=b.id) for i, b in enumerate(briefs))
    campaign.segments.extend(
        CampaignSegment(position=i, segment_id=s.id) for i, s in enumerate(segments)
    )
    session.flush()
    return campaign


def _checked_draft(
    session: Session, draft: CampaignDraft
) -> tuple[str, list[BriefRow], list[Segment]]:
    """The draft's clean name, briefs and segments; refuses what a campaign cannot hold."""
    _refuse_nul(draft)
    name = " ".join(draft.name.split())
    if not name or len(name) > 200:
        raise ConflictError("a campaign needs a name of 1 to 200 characters")
    if not draft.brief_slugs:
        raise ConflictError("a campaign needs at least one brief")
    if len(set(draft.brief_slugs)) != len(draft.brief_slugs):
        raise ConflictError("a brief is listed twice")
    check_template(draft.subject, "subject")
    check_template(draft.preheader, "preheader")
    briefs = _briefs_by_slug(session, draft.brief_slugs)
    segments = _segments_by_name(session, draft.segment_names)
    subject_lines(  # a trial run: refuses what would fail (or run too long) at the freeze
        draft.subject,
        draft.preheader,
        issue_date=draft.issue_date or (draft.send_at or utcnow()).date(),
        titles=[brief.title for brief in briefs],
        newsletter_name=CompileContext.newsletter_name,
    )
    return name, briefs, segments


def _refuse_nul(draft: CampaignDraft) -> None:
    """NUL in any text of the draft: PostgreSQL cannot even look it up, SQLite would store it."""
    texts = {"name": draft.name, "subject": draft.subject, "preheader": draft.preheader}
    for field, value in texts.items():
        if value is not None:
            reject_nul(value, field)
    for field, values in (("briefs", draft.brief_slugs), ("segments", draft.segment_names)):
        for value in values:
            reject_nul(value, field)


def _briefs_by_slug(session: Session, slugs: Sequence[str]) -> list[BriefRow]:
    rows = {r.slug: r for r in session.scalars(select(BriefRow).where(BriefRow.slug.in_(slugs)))}
    missing = [s for s in slugs if s not in rows]
    if missing:
        raise NotFoundError(missing_names("no brief with slug", missing, brief_slugs(session)))
    return [rows[s] for s in slugs]


def _segments_by_name(session: Session, names: Sequence[str]) -> list[Segment]:
    if len(set(names)) != len(names):
        raise ConflictError("a segment is listed twice")
    rows = {s.name: s for s in session.scalars(select(Segment).where(Segment.name.in_(names)))}
    missing = [n for n in names if n not in rows]
    if missing:
        known = session.scalars(select(Segment.name))
        raise NotFoundError(missing_names("no segment named", missing, known))
    return [rows[n] for n in names]


def get_campaign(session: Session, campaign_id: int, *, lock: bool = False) -> Campaign:
    query = select(Campaign).where(Campaign.id == campaign_id)
    if lock:
        hold_write_lock(session)
        query = query.with_for_update()
    campaign = session.scalar(query)
    if campaign is None:
        raise NotFoundError(f"no campaign with id {campaign_id}")
    return campaign


def campaign_briefs(session: Session, campaign: Campaign) -> list[Brief]:
    """The campaign's briefs, in its order, as documents."""
    ids = [b.brief_id for b in campaign.briefs]
    rows = {r.id: r for r in session.scalars(select(BriefRow).where(BriefRow.id.in_(ids)))}
    return [brief_from_row(rows[i]) for i in ids]


def brief_labels(session: Session, campaign: Campaign) -> list[tuple[str, str]]:
    """The (slug, title) of each of the campaign's briefs, in the campaign's order."""
    ids = [b.brief_id for b in campaign.briefs]
    rows = session.execute(
        select(BriefRow.id, BriefRow.slug, BriefRow.title).where(BriefRow.id.in_(ids))
    )
    found = {r.id: (r.slug, r.title) for r in rows}
    return [found[i] for i in ids]


def segment_names(session: Session, campaign: Campaign) -> list[str]:
    """The names of the campaign's segments, in match order."""
    ids = [s.segment_id for s in campaign.segments]
    names = dict(session.execute(select(Segment.id, Segment.name).where(Segment.id.in_(ids))).all())
    return [names[i] for i in ids]


def frozen_variants(session: Session, campaign_id: int) -> list[Variant]:
    """The campaign's frozen variants in match order (none before the freeze)."""
    return list(
        session.scalars(
            select(Variant).where(Variant.campaign_id == campaign_id).order_by(Variant.position)
        )
    )


def local_day(moment: datetime, settings: Settings) -> date:
    """The calendar day of ``moment`` where the editors are (``NEWSLETTER_EDITOR_TIMEZONE``)."""
    return moment.astimezone(ZoneInfo(settings.editor_timezone)).date()


def issue_day(campaign: Campaign, sent: datetime, settings: Settings) -> date:
    """The date an issue sent (or scheduled) at ``sent`` carries: a digest is dated by that
    day; any issue at the latest by that day, so no mail names a date still to come."""
    day = local_day(sent, settings)
    if campaign.kind == "digest":
        return day
    return min(campaign.issue_date, day)


LIST_PAGE_SIZE = 25


def list_campaigns(
    session: Session, *, page: int | None = None, size: int = LIST_PAGE_SIZE
) -> list[Campaign]:
    """Campaigns, newest first: every one, or page ``page`` (from 1) of ``size``, with one
    more when there is a next page."""
    query = select(Campaign).order_by(Campaign.id.desc())
    if page is not None:
        query = query.offset((page - 1) * size).limit(size + 1)
    return list(session.scalars(query))


def can(campaign: Campaign, action: str) -> bool:
    """Whether ``action`` (schedule, pause, resume, cancel, start, edit) fits the status."""
    if action == "edit" and campaign.frozen_at is not None:
        return False
    return campaign.status in _TRANSITIONS[action]


def require_status(campaign: Campaign, action: str) -> None:
    allowed = _TRANSITIONS[action]
    if campaign.status not in allowed:
        raise ConflictError(
            f"campaign {campaign.id} is {campaign.status}: it can only {action} when "
            + " or ".join(allowed)
        )


def schedule_campaign(
    session: Session, campaign_id: int, send_at: datetime, settings: Settings | None = None
) -> Campaign:
    """Schedule (or send now: ``send_at`` is now); refused as a start would be (see
    :mod:`campaigns.checks`), so that a scheduled start made by no one does not fail."""
    settings = settings or get_settings()
    campaign = get_campaign(session, campaign_id, lock=True)
    require_status(campaign, "schedule")
    if send_at.tzinfo is None:
        raise ConflictError("send_at needs a time zone (e.g. 2026-11-30T07:00:00+01:00)")
    require_startable(campaign, campaign_briefs(session, campaign), settings)
    campaign.send_at = send_at
    campaign.issue_date = issue_day(campaign, send_at, settings)
    campaign.status = CampaignStatus.SCHEDULED
    campaign.status_reason = None
    return campaign


def set_spread(session: Session, campaign_id: int, minutes: float | None) -> Campaign:
    """The campaign's delivery window: its send paced, across all workers, to last about
    ``minutes`` (:mod:`campaigns.shaping`); None sends as fast as the limits allow. A
    campaign already sending takes a new window from its workers' next round."""
    if minutes is not None and not 0 < minutes <= MAX_SPREAD_MINUTES:
        raise InvalidInput(
            "spread_minutes", f"must be more than 0 and at most {MAX_SPREAD_MINUTES} (a week)"
        )
    campaign = get_campaign(session, campaign_id, lock=True)
    require_status(campaign, "spread")
    campaign.spread_minutes = minutes
    return campaign


def set_local_time(session: Session, campaign_id: int, at: time | None) -> Campaign:
    """Send at ``at`` on each reader's own clock (None: at once); fixed once it is frozen,
    since the freeze gives every delivery its moment (:mod:`campaigns.local_time`)."""
    campaign = get_campaign(session, campaign_id, lock=True)
    require_status(campaign, "edit")
    if campaign.frozen_at is not None:
        raise ConflictError(f"campaign {campaign.id} is frozen: its local send time is fixed")
    campaign.local_send_time = at
    return campaign


def override_check(
    session: Session, campaign_id: int, check: Check, reason: str, by: str
) -> Campaign:
    """Record on a campaign that has not started that ``by`` passes ``check``, and why."""
    campaign = get_campaign(session, campaign_id, lock=True)
    if not can(campaign, "edit"):
        raise ConflictError(
            f"campaign {campaign.id} is {campaign.status}: its checks were made already"
        )
    record_override(campaign, check, reason, by)
    return campaign


def pause_campaign(session: Session, campaign_id: int, reason: str | None = None) -> Campaign:
    """Stop handing out batches; rows already with the provider finish normally."""
    campaign = get_campaign(session, campaign_id, lock=True)
    require_status(campaign, "pause")
    campaign.status = CampaignStatus.PAUSED
    campaign.status_reason = reason or "paused by an editor"
    return campaign


def resume_campaign(session: Session, campaign_id: int) -> Campaign:
    """A paused campaign goes on: back to sending if it had started, else to its schedule."""
    campaign = get_campaign(session, campaign_id, lock=True)
    require_status(campaign, "resume")
    campaign.status = CampaignStatus.SENDING if campaign.frozen_at else CampaignStatus.SCHEDULED
    campaign.status_reason = None
    return campaign


def cancel_campaign(session: Session, campaign_id: int) -> Campaign:
    """Cancel for good: queued recipients are skipped; nothing sent is undone."""
    campaign = get_campaign(session, campaign_id, lock=True)
    require_status(campaign, "cancel")
    campaign.status = CampaignStatus.CANCELLED
    campaign.status_reason = "cancelled by an editor"
    campaign.finished_at = utcnow()
    session.execute(
        update(Delivery)
        .where(Delivery.campaign_id == campaign.id, Delivery.status == DeliveryStatus.QUEUED)
        .values(status=DeliveryStatus.SKIPPED, error="campaign cancelled", updated_at=utcnow())
    )
    return campaign


def delivery_counts(session: Session, campaign_id: int) -> dict[str, int]:
    """Recipients per delivery status (statuses with none are left out)."""
    rows = session.execute(
        select(Delivery.status, func.count())
        .where(Delivery.campaign_id == campaign_id)
        .group_by(Delivery.status)
    )
    return {status: int(count) for status, count in rows}
