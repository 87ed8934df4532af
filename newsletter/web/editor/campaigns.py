"""Editor pages for campaigns: list, create (from picked briefs, or this week's digest),
edit, progress, and the schedule / send now / pause / resume / cancel actions.

Every action first shows a confirmation page saying how many people it concerns, per
segment: before the freeze the first-match counts from SQL
(:func:`campaigns.audience.audience`), afterwards the frozen deliveries. "Send now" never
sends inside the request: it schedules the campaign for this moment, and a worker (the one
``newsletter serve`` runs in the background, or ``newsletter worker --schedule``) freezes
and sends it, while the campaign page shows the progress.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import RedirectResponse
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.responses import Response

from campaigns.audience import (
    DeliveryProblem,
    SegmentAudience,
    VariantProgress,
    audience,
    delivery_problems,
    delivery_totals,
    frozen_counts,
)
from campaigns.checks import Check, content_problem, unsourced_citations
from campaigns.digest import (
    DigestResult,
    LeftOut,
    add_new_briefs,
    create_weekly_digest,
    include_brief,
    left_out_of,
)
from campaigns.digest_weeks import WeekOffer, digest_weeks
from campaigns.model import Campaign
from campaigns.preflight import enforced, require_preflight, run_preflight
from campaigns.preview import InboxLine, inbox_lines
from campaigns.progress import SendProgress, send_progress
from campaigns.service import (
    MAX_SPREAD_MINUTES,
    brief_labels,
    campaign_briefs,
    can,
    cancel_campaign,
    create_campaign,
    delivery_counts,
    get_campaign,
    list_campaigns,
    override_check,
    pause_campaign,
    resume_campaign,
    schedule_campaign,
    segment_names,
    set_local_time,
    set_spread,
    update_campaign,
)
from campaigns.states import CampaignStatus, DeliveryStatus
from campaigns.subject_tests import set_subject_test
from campaigns.weeks import IsoWeek
from newsletter.config import Settings
from newsletter.db import utcnow
from newsletter.errors import InvalidInput, NewsletterError, RenderError
from newsletter.web.editor.auth import csrf_protect, editor_page
from newsletter.web.editor.campaign_form import CampaignForm, Choices, choices_of
from newsletter.web.editor.paging import PAGE_SIZE, PageQuery, page_number
from newsletter.web.editor.site import EditorSite, editor_site, flash, render

router = APIRouter(
    include_in_schema=False, dependencies=[Depends(editor_page), Depends(csrf_protect)]
)
CampaignId = Annotated[int, Path(ge=1, le=2**31 - 1)]
Action = Literal["schedule", "send-now", "pause", "resume", "cancel"]
# Which service transition each action needs (see campaigns.service).
TRANSITION: dict[str, str] = {
    "schedule": "schedule",
    "send-now": "schedule",
    "pause": "pause",
    "resume": "resume",
    "cancel": "cancel",
}
ACTION_LABELS: dict[str, str] = {
    "schedule": "Schedule",
    "send-now": "Send now",
    "pause": "Pause",
    "resume": "Resume",
    "cancel": "Cancel campaign",
}


@router.get("/editor")
async def editor_home() -> Response:
    return RedirectResponse("/editor/campaigns", status_code=303)


@router.get("/editor/campaigns")
async def campaigns_page(request: Request, page: PageQuery = "1") -> Response:
    number = page_number(page)

    def load(session: Session) -> tuple[list[Campaign], dict[int, tuple[int, int]]]:
        campaigns = list_campaigns(session, page=number, size=PAGE_SIZE)
        return campaigns, delivery_totals(session, [c.id for c in campaigns])

    campaigns, totals = await editor_site(request).run(load)
    context = {
        "campaigns": campaigns[:PAGE_SIZE],
        "totals": totals,
        "page": number,
        "more": len(campaigns) > PAGE_SIZE,
        "path": "/editor/campaigns",
    }
    return render(request, "campaigns.html", context)


# --- create and edit ----------------------------------------------------------------------


def _form_page(
    request: Request,
    choices: Choices,
    values: CampaignForm,
    *,
    campaign: Campaign | None = None,
    error: NewsletterError | None = None,
    weeks: list[WeekOffer] | None = None,
) -> Response:
    problem = error.problem if isinstance(error, RenderError) else None
    context = {
        "choices": choices,
        "values": values,
        "campaign": campaign,
        "error": None if error is None else str(error),
        "problem": problem,
        "today": _today(editor_site(request)).isoformat(),
        "weeks": weeks or [],
        "settings_grace_days": editor_site(request).settings.digest_grace_days,
        "default_time_zone": editor_site(request).settings.default_time_zone,
    }
    return render(request, "campaign_form.html", context, status=422 if error else 200)


def _today(site: EditorSite) -> date:
    """The editors' local day: "this week" is theirs, not UTC's."""
    return datetime.now(site.zone).date()


async def _new_form_data(
    site: EditorSite, *, keep: Iterable[str] = (), find: str = ""
) -> tuple[Choices, list[WeekOffer]]:
    today = _today(site)
    return await site.run(
        lambda session: (
            choices_of(session, keep=keep, find=find),
            digest_weeks(session, today, site.settings),
        )
    )


@router.get("/editor/campaigns/new")
async def new_campaign_page(request: Request, find: str = "") -> Response:
    choices, weeks = await _new_form_data(editor_site(request), find=find)
    return _form_page(request, choices, CampaignForm(), weeks=weeks)


@router.post("/editor/campaigns/new")
async def create_campaign_post(request: Request) -> Response:
    site = editor_site(request)
    values = await CampaignForm.read(request)
    choices, weeks = await _new_form_data(site, keep=values.briefs)
    try:
        draft = values.draft(choices.segment_names)
        plan = values.subject_test()
        at = values.send_time()

        def create(session: Session) -> int:
            made = create_campaign(session, draft, settings=site.settings).id
            if plan is not None:
                set_subject_test(session, made, plan)
            set_local_time(session, made, at)
            return made

        campaign_id = await site.run(create)
    except NewsletterError as exc:
        return _form_page(request, choices, values, error=exc, weeks=weeks)
    flash(request, "Campaign created. Check the preview, then schedule it.")
    return RedirectResponse(f"/editor/campaigns/{campaign_id}", status_code=303)


@router.post("/editor/campaigns/digest")
async def create_digest_post(request: Request) -> Response:
    site = editor_site(request)
    form = await request.form()
    chosen = form.get("week")
    try:
        week = (
            IsoWeek.parse(chosen[:20])
            if isinstance(chosen, str) and chosen.strip()
            else IsoWeek.of(_today(site))
        )
        result = await run_in_threadpool(
            lambda: create_weekly_digest(site.database, week, settings=site.settings)
        )
    except NewsletterError as exc:
        flash(request, str(exc), "error")
        return RedirectResponse("/editor/campaigns/new", status_code=303)
    flash(request, _digest_message(result))
    return RedirectResponse(f"/editor/campaigns/{result.campaign_id}", status_code=303)


def _digest_message(result: DigestResult) -> str:
    """What the digest button did, in words: made, or found (and what is new since)."""
    if result.created:
        left = f"; {len(result.left_out)} ready briefs left out (see below)" * bool(result.left_out)
        return f"Created the digest of {result.week} from {len(result.brief_slugs)} briefs{left}."
    new = len(result.new)
    if new:
        briefs = "brief is" if new == 1 else "briefs are"
        return (
            f"The digest of {result.week} exists already; {new} {briefs} new since you "
            "created it: add them below."
        )
    return f"The digest of {result.week} exists already: here it is, nothing new since."


@router.get("/editor/campaigns/{campaign_id}/edit")
async def edit_campaign_page(request: Request, campaign_id: CampaignId, find: str = "") -> Response:
    def load(session: Session) -> tuple[Campaign, Choices, CampaignForm]:
        campaign = get_campaign(session, campaign_id)
        choices = choices_of(session, keep_ids=[b.brief_id for b in campaign.briefs], find=find)
        slugs = {row.id: row.slug for row in choices.briefs}
        return campaign, choices, CampaignForm.of(campaign, slugs)

    campaign, choices, values = await editor_site(request).run(load)
    if not can(campaign, "edit"):
        flash(request, f"This campaign is {campaign.status}: it can no longer change.", "error")
        return RedirectResponse(f"/editor/campaigns/{campaign_id}", status_code=303)
    return _form_page(request, choices, values, campaign=campaign)


@router.post("/editor/campaigns/{campaign_id}/edit")
async def edit_campaign_post(request: Request, campaign_id: CampaignId) -> Response:
    site = editor_site(request)
    values = await CampaignForm.read(request)

    def load(session: Session) -> tuple[Campaign, Choices]:
        return get_campaign(session, campaign_id), choices_of(session, keep=values.briefs)

    campaign, choices = await site.run(load)
    try:
        draft = values.draft(choices.segment_names)
        plan = values.subject_test()
        at = values.send_time()

        def save(session: Session) -> None:
            update_campaign(session, campaign_id, draft)
            set_subject_test(session, campaign_id, plan)
            set_local_time(session, campaign_id, at)

        await site.run(save)
    except NewsletterError as exc:
        return _form_page(request, choices, values, campaign=campaign, error=exc)
    flash(request, "Campaign saved.")
    return RedirectResponse(f"/editor/campaigns/{campaign_id}", status_code=303)


# --- the campaign page ---------------------------------------------------------------------


@dataclass(frozen=True)
class CampaignView:
    campaign: Campaign
    brief_titles: list[tuple[str, str]]
    segment_names: list[str]
    counts: dict[str, int]
    variants: list[VariantProgress]
    problems: list[DeliveryProblem]
    left_out: list[LeftOut]
    unsourced: dict[str, list[int]]
    shadowed: list[str]
    inbox: list[InboxLine]
    progress: SendProgress


def campaign_view(session: Session, campaign_id: int, settings: Settings) -> CampaignView:
    campaign = get_campaign(session, campaign_id)
    unstarted = campaign.frozen_at is None
    counts = delivery_counts(session, campaign_id)
    return CampaignView(
        campaign=campaign,
        brief_titles=brief_labels(session, campaign),
        segment_names=segment_names(session, campaign),
        counts=counts,
        variants=frozen_counts(session, campaign_id),
        problems=delivery_problems(session, campaign_id),
        left_out=left_out_of(session, campaign, settings) if unstarted else [],
        unsourced=unsourced_citations(campaign_briefs(session, campaign)) if unstarted else {},
        shadowed=shadowed_segments(session, campaign) if unstarted else [],
        inbox=inbox_lines(session, campaign, settings),
        progress=send_progress(counts, campaign.status, campaign.started_at, utcnow()),
    )


def shadowed_segments(session: Session, campaign: Campaign) -> list[str]:
    """Segments whose readers the segments above them take, in words (none without two)."""
    if len(campaign.segments) < 2:
        return []
    return [s.shadowed for s in audience(session, campaign) if s.shadowed]


def available_actions(campaign: Campaign) -> list[str]:
    return [action for action, transition in TRANSITION.items() if can(campaign, transition)]


@router.get("/editor/campaigns/{campaign_id}")
async def campaign_page(request: Request, campaign_id: CampaignId) -> Response:
    site = editor_site(request)
    view = await site.run(lambda session: campaign_view(session, campaign_id, site.settings))
    context = {
        "view": view,
        "campaign": view.campaign,
        "actions": available_actions(view.campaign),
        "labels": ACTION_LABELS,
        "can_edit": can(view.campaign, "edit"),
        "due": view.campaign.status == CampaignStatus.SCHEDULED
        and view.campaign.send_at is not None
        and view.campaign.send_at <= utcnow(),
    }
    return render(request, "campaign.html", context)


# --- actions, each behind a confirmation page ----------------------------------------------


def parse_local_time(site: EditorSite, value: str) -> datetime:
    """A ``datetime-local`` value (no zone) read in the editors' time zone."""
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        raise InvalidInput("send_at", "is not a date and time") from None
    if not 2000 <= moment.year <= 2999:
        raise InvalidInput("send_at", "must be a time in this millennium")
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=site.zone)
    return moment


def parse_spread(value: object) -> float | None:
    """The confirmation form's delivery window: minutes, or None (empty: as fast as the
    limits allow). Its bounds are :func:`campaigns.service.set_spread`'s."""
    text = value.strip() if isinstance(value, str) else ""
    if not text:
        return None
    try:
        minutes = float(text) if len(text) <= 20 else float("nan")
    except ValueError:
        minutes = float("nan")
    if not 0 < minutes <= MAX_SPREAD_MINUTES:  # NaN and infinity too
        raise InvalidInput(
            "spread_minutes",
            f"must be a number of minutes, more than 0 and at most {MAX_SPREAD_MINUTES:,} "
            "(a week), or empty",
        )
    return minutes


@dataclass(frozen=True)
class Reach:
    """Who an action concerns: per segment before the freeze, per variant after."""

    segments: list[SegmentAudience]
    variants: list[VariantProgress]

    @property
    def total(self) -> int:
        if self.variants:
            return sum(v.total for v in self.variants)
        return sum(s.recipients for s in self.segments)


def reach(session: Session, campaign: Campaign) -> Reach:
    if campaign.frozen_at is not None:
        return Reach([], frozen_counts(session, campaign.id))
    return Reach(audience(session, campaign), [])


@router.post("/editor/campaigns/{campaign_id}/include")
async def include_post(request: Request, campaign_id: CampaignId) -> Response:
    """Take a brief the digest left out, on the editor's explicit choice."""
    site = editor_site(request)
    form = await request.form()
    slug = form.get("slug")
    try:
        if not isinstance(slug, str) or not slug.strip():
            raise InvalidInput("slug", "names no brief")
        await site.run(lambda session: include_brief(session, campaign_id, slug.strip()))
    except NewsletterError as exc:
        flash(request, str(exc), "error")
    else:
        flash(request, f"Included {slug.strip()}.")
    return RedirectResponse(f"/editor/campaigns/{campaign_id}", status_code=303)


@router.post("/editor/campaigns/{campaign_id}/add-new")
async def add_new_post(request: Request, campaign_id: CampaignId) -> Response:
    """Refresh a digest: add every brief marked ready since it was created."""
    site = editor_site(request)
    try:
        added = await site.run(lambda session: add_new_briefs(session, campaign_id, site.settings))
    except NewsletterError as exc:
        flash(request, str(exc), "error")
    else:
        flash(request, f"Added {', '.join(added)}." if added else "Nothing new to add.")
    return RedirectResponse(f"/editor/campaigns/{campaign_id}", status_code=303)


@router.get("/editor/campaigns/{campaign_id}/confirm/{action}")
async def confirm_page(
    request: Request,
    campaign_id: CampaignId,
    action: Action,
    send_at: Annotated[str, Query(max_length=40)] = "",
) -> Response:
    site = editor_site(request)

    def load(session: Session) -> tuple[Campaign, Reach, str | None]:
        campaign = get_campaign(session, campaign_id)
        blocked = None
        if action in ("schedule", "send-now"):
            blocked = content_problem(campaign, campaign_briefs(session, campaign))
        return campaign, reach(session, campaign), blocked

    campaign, who, blocked = await site.run(load)
    checks = None
    if action in ("schedule", "send-now") and enforced(site.settings):
        checks = await run_in_threadpool(run_preflight, site.database, campaign_id, site.settings)
        blocked = None  # the checks show it, with everything else
    if not can(campaign, TRANSITION[action]):
        flash(request, f"This campaign is {campaign.status}: it cannot {action} now.", "error")
        return RedirectResponse(f"/editor/campaigns/{campaign_id}", status_code=303)
    moment = None
    if action == "schedule":
        try:
            moment = parse_local_time(site, send_at)
        except InvalidInput as exc:
            flash(request, f"Send at {exc.reason}.", "error")
            return RedirectResponse(f"/editor/campaigns/{campaign_id}", status_code=303)
    context = {
        "campaign": campaign,
        "action": action,
        "label": ACTION_LABELS[action],
        "reach": who,
        "send_at": send_at,
        "moment": moment,
        "past": moment is not None and moment <= utcnow(),
        "max_spread": MAX_SPREAD_MINUTES,
        "blocked": blocked,
        "override_check": str(Check.UNSOURCED_CITATIONS),
        "checks": checks,
    }
    return render(request, "confirm.html", context)


@router.post("/editor/campaigns/{campaign_id}/actions/{action}")
async def action_post(request: Request, campaign_id: CampaignId, action: Action) -> Response:
    site = editor_site(request)
    form = await request.form()
    send_at = form.get("send_at")
    try:
        moment = (
            parse_local_time(site, send_at if isinstance(send_at, str) else "")
            if action == "schedule"
            else utcnow()
        )
        spread = parse_spread(form.get("spread_minutes"))  # schedule / send-now set it
        overrides, reason = _overrides_of(form)
        by = request.state.editor.email

        def record(session: Session) -> None:
            for check in overrides:
                override_check(session, campaign_id, check, reason, by)

        if overrides:
            await site.run(record)
        if action in ("schedule", "send-now"):
            await run_in_threadpool(require_preflight, site.database, campaign_id, site.settings)
        message = await site.run(
            lambda session: _perform(session, campaign_id, action, moment, site.settings, spread)
        )
    except NewsletterError as exc:
        flash(request, str(exc), "error")
    else:
        flash(request, message)
    return RedirectResponse(f"/editor/campaigns/{campaign_id}", status_code=303)


def _overrides_of(form: FormData) -> tuple[list[Check], str]:
    """The confirmation page's "send anyway" choices and their reason (checks unknown to
    :class:`Check` are ignored: a form cannot invent a check to pass)."""
    known = {str(c): c for c in Check}
    checks = [known[v] for v in form.getlist("override") if isinstance(v, str) and v in known]
    reason = form.get("override_reason")
    return list(dict.fromkeys(checks)), reason if isinstance(reason, str) else ""


def _perform(
    session: Session,
    campaign_id: int,
    action: str,
    moment: datetime,
    settings: Settings,
    spread: float | None = None,
) -> str:
    if action in ("schedule", "send-now"):
        schedule_campaign(session, campaign_id, moment, settings)
        set_spread(session, campaign_id, spread)  # the form shows the window it had
        window = f", spread over {spread:g} minutes" if spread else ""
        if action == "schedule":
            return f"Scheduled{window}. A worker starts it when the time comes."
        return f"Sending starts as soon as a worker picks it up (within seconds){window}."
    if action == "pause":
        pause_campaign(session, campaign_id)
        return "Paused. Batches already with the provider finish."
    if action == "resume":
        campaign = resume_campaign(session, campaign_id)
        return f"Resumed: the campaign is {campaign.status} again."
    counts = delivery_counts(session, campaign_id)
    cancel_campaign(session, campaign_id)
    return f"Cancelled; {counts.get(DeliveryStatus.QUEUED, 0)} queued recipients were skipped."
