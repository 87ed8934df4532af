"""One subscriber as the editor's subscriber page shows them: their row, consent history,
suppression, and what was sent to them and what they did with it (the latest first, bounded).

The deliveries and events belong to this package, so the page's one service lives here;
both are read through their ``subscriber_id`` indexes, newest first, at most
:data:`RECENT` rows each, whatever the history holds.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from campaigns.events import Event
from campaigns.model import Campaign, CampaignSegment, Delivery
from subscribers.directory import consent_history
from subscribers.model import ConsentRecord, Subscriber, Suppression
from subscribers.signup import find_by_uid

RECENT = 20


@dataclass(frozen=True, slots=True)
class DeliveryLine:
    campaign_id: int
    campaign: str
    status: str
    error: str | None
    sent_at: datetime | None


@dataclass(frozen=True, slots=True)
class EventLine:
    type: str
    occurred_at: datetime
    campaign_id: int | None
    campaign: str | None
    machine: bool
    detail: str | None  # the link clicked, or the bounce / drop reason


@dataclass(frozen=True, slots=True)
class SubscriberProfile:
    subscriber: Subscriber
    consent: list[ConsentRecord]
    suppression: Suppression | None
    deliveries: list[DeliveryLine]
    events: list[EventLine]


def subscriber_profile(session: Session, uid: str) -> SubscriberProfile:
    """Everything the subscriber page shows; :class:`NotFoundError` for an unknown or
    erased subscriber."""
    subscriber = find_by_uid(session, uid)
    suppression = session.get(Suppression, subscriber.email_hash) if subscriber.email_hash else None
    return SubscriberProfile(
        subscriber=subscriber,
        consent=consent_history(session, subscriber),
        suppression=suppression,
        deliveries=_deliveries(session, subscriber.id),
        events=_events(session, subscriber.id),
    )


def _deliveries(session: Session, subscriber_id: int) -> list[DeliveryLine]:
    rows = session.execute(
        select(Delivery.campaign_id, Campaign.name, Delivery.status, Delivery.error)
        .add_columns(Delivery.sent_at)
        .join(Campaign, Campaign.id == Delivery.campaign_id)
        .where(Delivery.subscriber_id == subscriber_id)
        .order_by(Delivery.id.desc())
        .limit(RECENT)
    )
    return [DeliveryLine(*row) for row in rows]


def _events(session: Session, subscriber_id: int) -> list[EventLine]:
    rows = session.execute(
        select(
            Event.type,
            Event.occurred_at,
            Event.campaign_id,
            Campaign.name,
            Event.machine,
            Event.url,
            Event.reason,
        )
        .outerjoin(Campaign, Campaign.id == Event.campaign_id)
        .where(Event.subscriber_id == subscriber_id)
        .order_by(Event.occurred_at.desc(), Event.id.desc())
        .limit(RECENT)
    )
    return [
        EventLine(kind, at, campaign_id, name, machine, url or reason)
        for kind, at, campaign_id, name, machine, url, reason in rows
    ]


def campaigns_using_segment(session: Session, segment_id: int) -> list[tuple[int, str]]:
    """The campaigns (id, name) that target a segment: it cannot be deleted while any do."""
    rows = session.execute(
        select(Campaign.id, Campaign.name)
        .join(CampaignSegment, CampaignSegment.campaign_id == Campaign.id)
        .where(CampaignSegment.segment_id == segment_id)
        .distinct()
        .order_by(Campaign.id)
    )
    return [(campaign_id, name) for campaign_id, name in rows]
