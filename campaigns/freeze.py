"""Freeze a campaign: compile each segment's variant once, store it, queue every recipient.

Freezing is one transaction: the variants exactly as they will be sent (content, and the
envelope: sender, reply-to, list headers, tracking, provider; see
:mod:`campaigns.envelope`), decided once from the settings in force, then one
``INSERT … SELECT`` that gives every mailable subscriber the variant of the first segment
that matches (suppressed and inactive addresses excluded), then the campaign moves to
``sending``. Freezing a frozen campaign changes nothing.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from html import escape
from typing import Any

from sqlalchemy import func, insert, literal, select
from sqlalchemy.orm import Session

from campaigns.checks import require_startable
from campaigns.envelope import envelope_for, tracking_plan
from campaigns.model import Campaign, Delivery, Variant
from campaigns.service import campaign_briefs, get_campaign, issue_day, require_status
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
from subscribers.model import Segment
from subscribers.segment_store import context_for, options_of, rule_of
from subscribers.segments import Everyone, Rule, recipients_by_segment

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
    session: Session, campaign: Campaign, settings: Settings, *, test_send: bool = False
) -> list[tuple[str, Segment | None, VariantOptions, Rule, CompiledVariant]]:
    """Every variant of the campaign, compiled (used by freezing and by previews)."""
    briefs = campaign_briefs(session, campaign)
    compiled = []
    for name, segment, options, rule in variant_plan(session, campaign):
        context = variant_context(settings, campaign, name, test_send=test_send)
        compiled.append((name, segment, options, rule, compile_variant(briefs, options, context)))
    return compiled


def web_version(
    session: Session, campaign: Campaign, settings: Settings, options: VariantOptions, name: str
) -> str:
    """The variant as the archive and view-online link show it: every brief (no size budget,
    so the "more online" anchors exist), no tracking, and no one's personal data: the
    greeting uses the fallback name and the personal links lead to the signup page."""
    context = CompileContext.from_settings(
        settings, campaign.issue_date, variant=name, fit_to_budget=False
    )
    variant = compile_variant(campaign_briefs(session, campaign), options, context)
    signup = f"{context.public_url}/subscribe"
    neutral = {
        FIRST_NAME: variant.name_fallback,
        FIRST_NAME_HTML: escape(variant.name_fallback, quote=True),
        UNSUBSCRIBE_URL: signup,
        PREFERENCES_URL: signup,
        VIEW_ONLINE_URL: f"{context.public_url}/archive/{campaign.id}",
    }
    return PlaceholderTemplate(variant.html).fill(neutral)


def freeze_campaign(database: Database, campaign_id: int, settings: Settings) -> FreezeResult:
    """Compile, store and queue; the campaign is ``sending`` when this returns."""
    with database.transaction() as session:
        campaign = get_campaign(session, campaign_id, lock=True)
        if campaign.frozen_at is not None:
            return FreezeResult(campaign.id, False, _frozen(session, campaign.id))
        require_status(campaign, "start")
        require_startable(campaign, campaign_briefs(session, campaign), settings)
        now = utcnow()
        campaign.issue_date = issue_day(campaign, now, settings)
        compiled = compile_campaign(session, campaign, settings)
        plan: list[tuple[int, Rule]] = []
        for position, (name, segment, options, rule, variant) in enumerate(compiled):
            envelope = envelope_for(settings, campaign.id, name)
            tracking = envelope.tracking
            row = Variant(
                campaign_id=campaign.id,
                position=position,
                segment_id=segment.id if segment else None,
                name=name,
                subject=variant.subject,
                preheader=variant.preheader,
                html=variant.html,
                text=variant.text,
                web_html=web_version(session, campaign, settings, options, name),
                links=[dataclasses.asdict(link) for link in variant.links],
                warnings=list(variant.warnings),
                brief_slugs=list(variant.brief_slugs),
                online_slugs=list(variant.online_slugs),
                options={**options.model_dump(mode="json"), "name_fallback": variant.name_fallback},
                size_bytes=variant.size_bytes,
                track_opens=tracking.provider_opens or tracking.own_opens,
                track_clicks=tracking.provider_clicks or any(lk.tracked for lk in variant.links),
                envelope=envelope.to_json(),
            )
            session.add(row)
            session.flush()
            plan.append((row.id, rule))
        _queue_recipients(session, campaign.id, plan)
        campaign.frozen_at = now
        campaign.started_at = now
        campaign.status = "sending"
        campaign.status_reason = None
        campaign.provider = settings.provider
        session.flush()
        return FreezeResult(campaign.id, True, _frozen(session, campaign.id))


def _queue_recipients(session: Session, campaign_id: int, plan: list[tuple[int, Rule]]) -> None:
    """One INSERT … SELECT: each mailable subscriber gets the first matching variant."""
    chosen = recipients_by_segment(plan, context_for(session)).subquery("chosen")
    session.execute(
        insert(Delivery).from_select(
            ["campaign_id", "variant_id", "subscriber_id", "status", "attempts"],
            select(
                literal(campaign_id),
                chosen.c.segment_id,
                chosen.c.subscriber_id,
                literal("queued"),
                literal(0),
            ),
        )
    )


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
