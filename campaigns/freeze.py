"""Freeze a campaign: compile each variant once, store it, queue every recipient.

Freezing is one transaction: the variants exactly as they will be sent (content, and the
envelope: sender, reply-to, list headers, tracking, provider; see
:mod:`campaigns.envelope`), decided once from the settings in force. Each segment gets its
own variant, and the readers' own choices (narrative mode, topics) get one more per distinct
result within their segment (:mod:`campaigns.choices`). Then one ``INSERT … SELECT`` gives
every mailable subscriber the variant of the first segment that matches, as their choices
shape it (suppressed and inactive addresses excluded), and the campaign moves to
``sending``. Freezing a frozen campaign changes nothing.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from html import escape
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from campaigns.archive_page import archive_page
from campaigns.checks import require_startable
from campaigns.choices import (
    ChoiceVariant,
    audience_choices,
    plan_choice_variants,
    queue_readers,
    record_choices,
)
from campaigns.envelope import envelope_for, tracking_plan
from campaigns.local_time import local_moments
from campaigns.model import Campaign, Delivery, Variant
from campaigns.service import campaign_briefs, get_campaign, issue_day, require_status
from campaigns.states import CampaignStatus
from campaigns.subject_tests import (
    HOLDING,
    candidate_options,
    cell_label,
    deal_for,
    has_test,
    require_cell_sizes,
)
from campaigns.webhook_events import report_campaign
from newsletter.briefs.document import Brief
from newsletter.config import Settings
from newsletter.db import Database, utcnow
from newsletter.placeholders import PlaceholderTemplate
from newsletter.render.compile import compile_variant
from newsletter.render.context import CompileContext
from newsletter.render.options import VariantOptions
from newsletter.render.recipient import (
    FIRST_NAME,
    FIRST_NAME_HTML,
    PREFERENCES_URL,
    UNSUBSCRIBE_URL,
    VIEW_ONLINE_URL,
)
from newsletter.render.variant import CompiledVariant
from newsletter.webhooks.model import EventType
from subscribers.model import Segment
from subscribers.segment_store import context_for, options_of, rule_of
from subscribers.segments import Everyone, Rule

EVERYONE = "everyone"


@dataclass(frozen=True)
class FrozenVariant:
    variant_id: int
    name: str
    subject: str
    recipients: int
    size_bytes: int
    warnings: tuple[str, ...]


@dataclass(frozen=True)
class FreezeResult:
    campaign_id: int
    created: bool
    variants: tuple[FrozenVariant, ...]

    @property
    def recipients(self) -> int:
        return sum(v.recipients for v in self.variants)


def variant_plan(
    session: Session, campaign: Campaign
) -> list[tuple[str, Segment | None, VariantOptions, Rule]]:
    """(name, segment, options, rule) per variant, in match order; 'everyone' by default."""
    if not campaign.segments:
        return [(EVERYONE, None, _with_campaign_words(VariantOptions(), campaign), Everyone())]
    segments = {
        s.id: s
        for s in session.scalars(
            select(Segment).where(Segment.id.in_([c.segment_id for c in campaign.segments]))
        )
    }
    plan: list[tuple[str, Segment | None, VariantOptions, Rule]] = []
    for link in campaign.segments:
        segment = segments[link.segment_id]
        options = _with_campaign_words(options_of(segment), campaign)
        plan.append((segment.name, segment, options, rule_of(segment)))
    return plan


def _with_campaign_words(options: VariantOptions, campaign: Campaign) -> VariantOptions:
    """The campaign's subject/preheader apply where the segment does not set its own."""
    changes: dict[str, Any] = {}
    if options.subject is None and campaign.subject_template:
        changes["subject"] = campaign.subject_template
    if options.preheader is None and campaign.preheader_template:
        changes["preheader"] = campaign.preheader_template
    return options.model_copy(update=changes) if changes else options


def variant_context(
    settings: Settings,
    campaign: Campaign,
    name: str,
    *,
    test_send: bool = False,
    tracked: bool | None = None,
) -> CompileContext:
    """How one variant of ``campaign`` is compiled; ``tracked=False`` turns first-party
    tracking off (a test send has none: its clicks and opens must count nowhere)."""
    plan = tracking_plan(settings)
    return CompileContext.from_settings(
        settings,
        campaign.issue_date,
        variant=name,
        track_clicks=plan.own_clicks if tracked is None else tracked,
        track_opens=plan.own_opens if tracked is None else tracked,
        test_send=test_send,
    )


def compile_campaign(
    session: Session,
    campaign: Campaign,
    settings: Settings,
    *,
    test_send: bool = False,
    briefs: Sequence[Brief] | None = None,
) -> list[tuple[str, Segment | None, VariantOptions, Rule, CompiledVariant]]:
    """Every segment's own variant of the campaign, compiled (freezing and previews)."""
    if briefs is None:
        briefs = campaign_briefs(session, campaign)
    compiled = []
    for name, segment, options, rule in variant_plan(session, campaign):
        context = variant_context(settings, campaign, name, test_send=test_send)
        compiled.append((name, segment, options, rule, compile_variant(briefs, options, context)))
    return compiled


def web_version(
    campaign: Campaign,
    settings: Settings,
    options: VariantOptions,
    name: str,
    briefs: Sequence[Brief],
) -> str:
    """The variant as the archive and view-online link show it: every brief (no size budget,
    so the "more online" anchors exist), no tracking, and no one's personal data: the
    greeting uses the fallback name and the personal links lead to the signup page."""
    context = CompileContext.from_settings(
        settings, campaign.issue_date, variant=name, fit_to_budget=False
    )
    variant = compile_variant(briefs, options, context)
    return impersonal_html(variant, f"{context.public_url}/archive/{campaign.id}")


def impersonal_html(variant: CompiledVariant, view_online: str) -> str:
    """A compiled HTML part as the web shows it: the greeting uses the fallback name and the
    personal links lead to the signup page (no one's data, nothing signed)."""
    signup = f"{variant.public_url}/subscribe"
    neutral = {
        FIRST_NAME: variant.name_fallback,
        FIRST_NAME_HTML: escape(variant.name_fallback, quote=True),
        UNSUBSCRIBE_URL: signup,
        PREFERENCES_URL: signup,
        VIEW_ONLINE_URL: view_online,
    }
    return PlaceholderTemplate(variant.html).fill(neutral)


def freeze_campaign(
    database: Database, campaign_id: int, settings: Settings, *, now: datetime | None = None
) -> FreezeResult:
    """Compile, store and queue; the campaign is ``sending`` when this returns.

    ``now`` (default: the clock) is the freeze moment; a campaign sent at the readers'
    local time gives each delivery the first such moment on its reader's clock after it."""
    with database.transaction() as session:
        campaign = get_campaign(session, campaign_id, lock=True)
        if campaign.frozen_at is not None:
            return FreezeResult(campaign.id, False, _frozen(session, campaign.id))
        briefs = campaign_briefs(session, campaign)
        require_status(campaign, "start")
        require_startable(campaign, briefs, settings)
        now = now or utcnow()
        campaign.issue_date = issue_day(campaign, now, settings)
        freezer = _Freezer(session, campaign, settings, briefs)
        compiled = compile_campaign(session, campaign, settings, briefs=briefs)
        campaign.archive_html = archive_page(campaign, settings, briefs)
        own = [
            freezer.store(name, segment, options, variant, name, None).id
            for name, segment, options, _, variant in compiled
        ]
        rules = [(position, rule) for position, (_, _, _, rule, _) in enumerate(compiled)]
        ctx = context_for(session)
        groups = audience_choices(session, rules, ctx)
        readers_own, needed = plan_choice_variants([c[2] for c in compiled], briefs, groups)
        assignments = [(own[pos], group) for pos, gs in readers_own.items() for group in gs]
        for needed_variant in needed:
            segment_name, segment, segment_options, _, _ = compiled[needed_variant.segment_position]
            row = freezer.compile_for_choice(segment_name, segment, segment_options, needed_variant)
            assignments += [(row.id, group) for group in needed_variant.groups]
        record_choices(session, campaign.id, assignments)
        deal = deal_for(campaign, freezer.add_cells()) if has_test(campaign) else None
        local = local_moments(session, campaign.local_send_time, now, settings.default_time_zone)
        queue_readers(session, campaign.id, rules, ctx, own, deal, local)
        if deal is not None:
            require_cell_sizes(session, campaign, settings)
        campaign.brief_titles = [brief.title for brief in briefs]
        campaign.frozen_at = now
        campaign.started_at = now
        campaign.status = CampaignStatus.SENDING
        campaign.status_reason = HOLDING if deal is not None else None
        campaign.provider = settings.provider
        session.flush()
        report_campaign(session, EventType.CAMPAIGN_STARTED, campaign.id, campaign.name, now)
        return FreezeResult(campaign.id, True, _frozen(session, campaign.id))


class _Freezer:
    """Stores one campaign's frozen variants, in order, with unique names."""

    def __init__(
        self, session: Session, campaign: Campaign, settings: Settings, briefs: Sequence[Brief]
    ) -> None:
        self.session = session
        self.campaign = campaign
        self.settings = settings
        self.briefs = tuple(briefs)
        self.names: set[str] = set()
        self.stored = 0
        self.made: list[tuple[Variant, Segment | None, VariantOptions, Sequence[Brief], str]] = []

    def compile_for_choice(
        self,
        segment_name: str,
        segment: Segment | None,
        segment_options: VariantOptions,
        needed: ChoiceVariant,
    ) -> Variant:
        """Compile and store the variant readers' choices need within one segment."""
        name = self._unique(f"{segment_name} · {needed.label(segment_options)}")
        options = needed.options(segment_options)
        context = variant_context(self.settings, self.campaign, name)
        variant = compile_variant(needed.briefs, options, context)
        return self.store(
            name,
            segment,
            options,
            variant,
            segment_name,
            needed.choice(segment_name),
            needed.briefs,
        )

    def store(
        self,
        name: str,
        segment: Segment | None,
        options: VariantOptions,
        variant: CompiledVariant,
        segment_name: str,
        choice: dict[str, Any] | None,
        briefs: Sequence[Brief] | None = None,
        cell: int | None = None,
    ) -> Variant:
        self.names.add(name)
        position, self.stored = self.stored, self.stored + 1
        envelope = envelope_for(self.settings, self.campaign.id, segment_name)
        tracking = envelope.tracking
        row = Variant(
            campaign_id=self.campaign.id,
            position=position,
            segment_id=segment.id if segment else None,
            name=name,
            subject=variant.subject,
            preheader=variant.preheader,
            html=variant.html,
            text=variant.text,
            web_html=web_version(
                self.campaign,
                self.settings,
                options,
                name,
                self.briefs if briefs is None else briefs,
            ),
            links=[dataclasses.asdict(link) for link in variant.links],
            warnings=list(variant.warnings),
            brief_slugs=list(variant.brief_slugs),
            online_slugs=list(variant.online_slugs),
            options={**options.model_dump(mode="json"), "name_fallback": variant.name_fallback},
            size_bytes=variant.size_bytes,
            track_opens=tracking.provider_opens or tracking.own_opens,
            track_clicks=tracking.provider_clicks or any(lk.tracked for lk in variant.links),
            envelope=envelope.to_json(),
            choice=choice,
            cell=cell,
        )
        self.session.add(row)
        self.session.flush()
        if cell is None:
            self.made.append((row, segment, options, briefs or self.briefs, segment_name))
        return row

    def add_cells(self) -> dict[tuple[int, int], int]:
        """A subject test's copies of every variant stored so far, one per subject (its
        cell), compiled with that subject; returns the copy of each (variant, cell)."""
        candidates = self.campaign.subject_candidates
        copies: dict[tuple[int, int], int] = {}
        for row, segment, options, briefs, segment_name in list(self.made):
            for cell in range(len(candidates) + 1):
                tried = options if cell == 0 else candidate_options(options, candidates[cell - 1])
                name = self._unique(f"{row.name} · {cell_label(cell)}")
                context = variant_context(self.settings, self.campaign, name)
                compiled = compile_variant(briefs, tried, context)
                choice = {**(row.choice or {}), "segment": segment_name, "cell": cell}
                choice["of"] = row.id
                copy = self.store(
                    name, segment, tried, compiled, segment_name, choice, briefs, cell
                )
                copies[(row.id, cell)] = copy.id
        return copies

    def _unique(self, name: str) -> str:
        """``name`` cut to the column's 100 characters, numbered if already taken."""
        candidate, number = name[:100], 1
        while candidate in self.names:
            number += 1
            suffix = f" #{number}"
            candidate = name[: 100 - len(suffix)] + suffix
        return candidate


def _frozen(session: Session, campaign_id: int) -> tuple[FrozenVariant, ...]:
    counts = dict(
        session.execute(
            select(Delivery.variant_id, func.count())
            .where(Delivery.campaign_id == campaign_id)
            .group_by(Delivery.variant_id)
        ).all()
    )
    variants = session.scalars(
        select(Variant).where(Variant.campaign_id == campaign_id).order_by(Variant.position)
    )
    return tuple(
        FrozenVariant(
            v.id, v.name, v.subject, int(counts.get(v.id, 0)), v.size_bytes, tuple(v.warnings)
        )
        for v in variants
    )
