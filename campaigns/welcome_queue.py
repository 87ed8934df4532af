"""Send the welcome series through the normal send path: freeze each step version once,
then append due readers to its campaign on every schedule round.

A step version becomes a campaign frozen like any other (one variant, its envelope, its
web version), so workers dispatch it, tracking ties events to it and its report is the
campaign's report. Each round, per enabled step, one ``INSERT … SELECT … ON CONFLICT DO
NOTHING`` writes a receipt for every mailable reader whose ``welcome_from + delay_days`` has
come (and is not more than :data:`LATE_LIMIT` ago: readers confirmed before the series
existed are not flooded), then one more gives those receipts their delivery rows. The
receipts' ``UNIQUE (subscriber_id, step_id)`` is what makes "never twice" hold with any
number of scheduler copies; the step row is also locked for the round (on SQLite: the
database's write lock), so that two copies never both freeze a step's first campaign.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import exists, literal, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from campaigns.envelope import envelope_for, tracking_plan
from campaigns.freeze import impersonal_html
from campaigns.model import Campaign, Delivery, Variant
from campaigns.states import CampaignStatus, DeliveryStatus
from campaigns.welcome_model import WelcomeCampaign, WelcomeReceipt, WelcomeStep
from campaigns.welcome_steps import get_step
from newsletter.config import Settings
from newsletter.db import Database, utcnow
from newsletter.errors import NewsletterError
from newsletter.render.compile import compile_welcome
from newsletter.render.context import CompileContext
from newsletter.render.variant import CompiledVariant
from subscribers.model import Subscriber
from subscribers.suppression import mailable

log = logging.getLogger(__name__)

LATE_LIMIT = timedelta(days=7)
VARIANT_NAME = "welcome"


@dataclass(frozen=True)
class QueuedStep:
    step_id: int
    campaign_id: int
    readers: int


def queue_due_steps(
    database: Database, settings: Settings, now: datetime | None = None
) -> list[QueuedStep]:
    """Queue every enabled step to the readers it is due to (safe in several processes)."""
    moment = now or utcnow()
    with database.transaction() as session:
        step_ids = list(
            session.scalars(
                select(WelcomeStep.id).where(WelcomeStep.enabled).order_by(WelcomeStep.position)
            )
        )
    queued = []
    for step_id in step_ids:
        try:
            with database.transaction() as session:
                found = _queue_step(session, settings, step_id, moment)
        except NewsletterError as exc:  # a step that cannot render or send: the rest go on
            log.warning("welcome step %s not queued: %s", step_id, exc)
            continue
        if found is not None and found.readers:
            queued.append(found)
    _reopen_welcome_campaigns(database)
    return queued


def _queue_step(
    session: Session, settings: Settings, step_id: int, now: datetime
) -> QueuedStep | None:
    step = get_step(session, step_id, lock=True)
    if not step.enabled:
        return None
    due_by = now - timedelta(days=step.delay_days)
    due = (
        Subscriber.welcome_from.is_not(None),
        Subscriber.welcome_from <= due_by,
        Subscriber.welcome_from > due_by - LATE_LIMIT,
        mailable(),
        ~exists().where(
            WelcomeReceipt.subscriber_id == Subscriber.id, WelcomeReceipt.step_id == step.id
        ),
    )
    if not session.scalar(select(exists().where(*due))):
        return None  # nobody due: no campaign is frozen for nobody
    campaign = _campaign_of(session, settings, step, now)
    if campaign.status == CampaignStatus.CANCELLED:
        return None  # an editor stopped this version: nobody new gets it
    readers = select(
        Subscriber.id,
        literal(step.id),
        literal(campaign.id),
        literal(now, WelcomeReceipt.queued_at.type),
    ).where(*due)
    columns = ["subscriber_id", "step_id", "campaign_id", "queued_at"]
    receipts = _insert(session, WelcomeReceipt).from_select(columns, readers)
    new = receipts.on_conflict_do_nothing().returning(WelcomeReceipt.subscriber_id)
    count = len(session.execute(new).all())
    if count:
        _deliver_receipts(session, campaign)
    return QueuedStep(step.id, campaign.id, count)


def _deliver_receipts(session: Session, campaign: Campaign) -> None:
    """Delivery rows for this campaign's receipts that have none yet (one INSERT … SELECT)."""
    variant_id = session.scalar(select(Variant.id).where(Variant.campaign_id == campaign.id))
    assert variant_id is not None, f"welcome campaign {campaign.id} has no variant"
    pending = select(
        literal(campaign.id),
        literal(variant_id),
        WelcomeReceipt.subscriber_id,
        literal(DeliveryStatus.QUEUED.value),
        literal(0),
    ).where(
        WelcomeReceipt.campaign_id == campaign.id,
        ~exists().where(
            Delivery.campaign_id == campaign.id,
            Delivery.subscriber_id == WelcomeReceipt.subscriber_id,
        ),
    )
    columns = ["campaign_id", "variant_id", "subscriber_id", "status", "attempts"]
    rows = _insert(session, Delivery).from_select(columns, pending)
    session.execute(rows.on_conflict_do_nothing())
    if campaign.status == CampaignStatus.SENT:
        campaign.status, campaign.finished_at = CampaignStatus.SENDING, None


def _reopen_welcome_campaigns(database: Database) -> None:
    """A welcome campaign a worker marked ``sent`` just as rows were appended (its check
    and our commit crossed) is sending again: queued rows never wait in a sent campaign."""
    with database.transaction() as session:
        session.execute(
            update(Campaign)
            .where(
                Campaign.status == CampaignStatus.SENT,
                Campaign.id.in_(select(WelcomeCampaign.campaign_id)),
                exists().where(
                    Delivery.campaign_id == Campaign.id,
                    Delivery.status == DeliveryStatus.QUEUED,
                ),
            )
            .values(status=CampaignStatus.SENDING, finished_at=None)
            .execution_options(synchronize_session=False)
        )


def _insert(session: Session, model: type[Any]) -> Any:
    """The dialect's INSERT, which knows ``ON CONFLICT DO NOTHING``."""
    dialect = session.get_bind().dialect.name
    return (pg_insert if dialect == "postgresql" else sqlite_insert)(model)


def _campaign_of(
    session: Session, settings: Settings, step: WelcomeStep, now: datetime
) -> Campaign:
    """The campaign of the step's current version, frozen now if it has none yet."""
    campaign = session.scalar(
        select(Campaign)
        .join(WelcomeCampaign, WelcomeCampaign.campaign_id == Campaign.id)
        .where(WelcomeCampaign.step_id == step.id, WelcomeCampaign.version == step.version)
    )
    if campaign is not None:
        return campaign
    return freeze_step_version(session, settings, step, now)


def compile_step(
    settings: Settings,
    step: WelcomeStep,
    now: datetime,
    *,
    tracked: bool = True,
    test_send: bool = False,
) -> CompiledVariant:
    """The step as readers get it (``tracked=False``: as the web shows it, or a preview;
    ``test_send``: with the test banner and "[TEST]" subject)."""
    plan = tracking_plan(settings)
    context = CompileContext.from_settings(
        settings,
        now.date(),
        variant=VARIANT_NAME,
        test_send=test_send,
        track_clicks=tracked and plan.own_clicks,
        track_opens=tracked and plan.own_opens,
    )
    name = settings.newsletter_name
    return compile_welcome(
        context,
        subject=step.subject.replace("{newsletter}", name),
        body=step.body.replace("{newsletter}", name),
    )


def freeze_step_version(
    session: Session, settings: Settings, step: WelcomeStep, now: datetime
) -> Campaign:
    """A sending campaign holding the step's current version as its one frozen variant."""
    campaign = Campaign(
        name=f"Welcome step {step.position} (v{step.version}): {step.subject}"[:200],
        kind="manual",
        issue_date=now.date(),
        status=CampaignStatus.SENDING,
        frozen_at=now,
        started_at=now,
        provider=settings.provider,
        brief_titles=[],
    )
    session.add(campaign)
    session.flush()
    compiled = compile_step(settings, step, now)
    envelope = envelope_for(settings, campaign.id, VARIANT_NAME)
    web = impersonal_html(compile_step(settings, step, now, tracked=False), "")
    session.add(
        Variant(
            campaign_id=campaign.id,
            position=0,
            segment_id=None,
            name=VARIANT_NAME,
            subject=compiled.subject,
            preheader=compiled.preheader,
            html=compiled.html,
            text=compiled.text,
            web_html=web,
            links=[dataclasses.asdict(link) for link in compiled.links],
            warnings=list(compiled.warnings),
            brief_slugs=[],
            online_slugs=[],
            options={"name_fallback": compiled.name_fallback},
            size_bytes=compiled.size_bytes,
            track_opens=envelope.tracking.provider_opens or envelope.tracking.own_opens,
            track_clicks=envelope.tracking.provider_clicks
            or any(link.tracked for link in compiled.links),
            envelope=envelope.to_json(),
        )
    )
    session.add(WelcomeCampaign(campaign_id=campaign.id, step_id=step.id, version=step.version))
    session.flush()
    log.info("welcome step %s v%s frozen as campaign %s", step.id, step.version, campaign.id)
    return campaign
