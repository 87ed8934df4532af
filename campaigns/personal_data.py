"""Tracking events in the data-protection duties: export them, and erase what identifies.

Registered with :func:`subscribers.gdpr.register_personal_data` by
:func:`campaigns.wiring.wire_extensions`. Erasing keeps the events (a campaign's figures
must not change when a reader is erased) but empties what identifies the person: the
payload (the raw provider event, which holds the address and IP, and the user agent) and
the address hash, for the events tied to the subscriber and for untied ones that name the
same address. The reader's last open and click
(:class:`~campaigns.events.SubscriberEngagement`) are exported, and erased outright: no
figure depends on them. So are the reader's welcome receipts (which step, when). The
reader's deliveries (which campaign, when, how it went) are exported and kept, for the
campaigns' counts, without the fingerprint of the address they were sent to.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, and_, delete, or_, select, update
from sqlalchemy.orm import Session

from campaigns.events import Event, SubscriberEngagement
from campaigns.model import Campaign, Delivery
from campaigns.payloads import StoredPayload, forget_payloads, payloads_of
from campaigns.welcome_model import WelcomeReceipt, WelcomeStep
from subscribers.gdpr import PersonalDataSection
from subscribers.model import Subscriber


def _theirs(subscriber: Subscriber) -> ColumnElement[bool]:
    tied = Event.subscriber_id == subscriber.id
    if not subscriber.email_hash:
        return tied
    untied = and_(Event.subscriber_id.is_(None), Event.email_hash == subscriber.email_hash)
    return or_(tied, untied)


def export_events(session: Session, subscriber: Subscriber) -> list[dict[str, Any]]:
    events = session.scalars(
        select(Event).where(_theirs(subscriber)).order_by(Event.occurred_at, Event.id)
    ).all()
    payloads = payloads_of(session.connection(), [e.id for e in events])
    return [_exported(e, payloads.get(e.id)) for e in events]


def _exported(e: Event, payload: StoredPayload | None) -> dict[str, Any]:
    return {
        "type": e.type,
        "at": e.occurred_at.isoformat(),
        "source": e.source,
        "campaign_id": e.campaign_id,
        "url": e.url,
        "user_agent": payload.user_agent if payload else None,
        "machine": e.machine,
        "reason": e.reason,
        "provider_event": payload.raw if payload else None,
    }


def erase_events(session: Session, subscriber: Subscriber) -> None:
    ids = session.scalars(select(Event.id).where(_theirs(subscriber))).all()
    forget_payloads(session.connection(), ids)  # rewrites the batches they share with others
    session.execute(
        update(Event)
        .where(_theirs(subscriber))
        .values(email_hash=None)
        .execution_options(synchronize_session=False)
    )


TRACKING_EVENTS = PersonalDataSection("tracking_events", export_events, erase_events)
"""The tracking events' share of export and erasure (registered by :mod:`campaigns.wiring`)."""


def export_engagement(session: Session, subscriber: Subscriber) -> dict[str, str | None]:
    row = session.get(SubscriberEngagement, subscriber.id)
    opened, clicked = (row.last_opened_at, row.last_clicked_at) if row else (None, None)
    return {
        "last_opened_at": opened.isoformat() if opened else None,
        "last_clicked_at": clicked.isoformat() if clicked else None,
    }


def erase_engagement(session: Session, subscriber: Subscriber) -> None:
    session.execute(
        delete(SubscriberEngagement).where(SubscriberEngagement.subscriber_id == subscriber.id)
    )


ENGAGEMENT = PersonalDataSection("engagement", export_engagement, erase_engagement)
"""The reader's last open and click in export and erasure (registered with the events)."""


def export_welcome_receipts(session: Session, subscriber: Subscriber) -> list[dict[str, Any]]:
    rows = session.execute(
        select(WelcomeReceipt.step_id, WelcomeStep.subject, WelcomeReceipt.queued_at)
        .join(WelcomeStep, WelcomeStep.id == WelcomeReceipt.step_id)
        .where(WelcomeReceipt.subscriber_id == subscriber.id)
        .order_by(WelcomeReceipt.queued_at, WelcomeReceipt.id)
    ).all()
    return [
        {"step_id": step_id, "step_subject": subject, "queued_at": at.isoformat()}
        for step_id, subject, at in rows
    ]


def erase_welcome_receipts(session: Session, subscriber: Subscriber) -> None:
    session.execute(delete(WelcomeReceipt).where(WelcomeReceipt.subscriber_id == subscriber.id))


WELCOME_RECEIPTS = PersonalDataSection(
    "welcome_receipts", export_welcome_receipts, erase_welcome_receipts
)
"""Which welcome steps the reader was queued, and when; erased outright (the erased reader is
never mailable again, so "never twice" needs no receipt; the step campaigns' deliveries
keep the counts)."""


def export_deliveries(session: Session, subscriber: Subscriber) -> list[dict[str, Any]]:
    rows = session.execute(
        select(Delivery.campaign_id, Campaign.name, Delivery.status, Delivery.sent_at)
        .join(Campaign, Campaign.id == Delivery.campaign_id)
        .where(Delivery.subscriber_id == subscriber.id)
        .order_by(Delivery.id)
    ).all()
    return [
        {
            "campaign_id": campaign_id,
            "campaign": name,
            "status": status,
            "sent_at": sent_at.isoformat() if sent_at else None,
        }
        for campaign_id, name, status, sent_at in rows
    ]


def erase_delivery_fingerprints(session: Session, subscriber: Subscriber) -> None:
    """Deliveries stay (a campaign's figures count them); the fingerprint of the address
    goes, after which no provider event naming an address is tied to them (campaigns.ingest)."""
    session.execute(
        update(Delivery)
        .where(Delivery.subscriber_id == subscriber.id)
        .values(recipient_fingerprint=None)
        .execution_options(synchronize_session=False)
    )


DELIVERIES = PersonalDataSection("deliveries", export_deliveries, erase_delivery_fingerprints)
"""The campaigns sent to the reader in export; the address's fingerprint in erasure."""
