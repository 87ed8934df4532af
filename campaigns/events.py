"""The ``events`` table: every tracking event, from SendGrid or our own pixel and redirects.

One normalised row per event, whatever its source (django-anymail's model: a fixed set of
event types, the provider's raw event kept beside them). An event is tied to its delivery,
campaign, variant (segment) and subscriber when the ids it carries name a delivery we know
and the address it names is that delivery's recipient's; otherwise those stay empty: an
event is never matched to a recipient by guessing.

``(source, event_id)`` is unique: SendGrid delivers every event at least once and often
several times, so a replayed batch must change nothing. First-party events get ids that
make repeats collide on purpose (see :mod:`campaigns.tracking`): one open or click per
delivery, link, minute and kind of visitor, one unsubscribe per delivery.

Events are a log, not part of the delivery state machine, so the table has no foreign keys:
ids are checked against ``deliveries`` when an event is recorded, and a batch of a thousand
events costs no thousand foreign-key look-ups on insert.

``machine`` marks events a person did not cause (Apple Mail Privacy Protection prefetching
images, link scanners, ``HEAD`` requests): they are stored, and reports count them apart.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, get_args

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ColumnElement,
    ForeignKey,
    Index,
    String,
    UniqueConstraint,
    and_,
    or_,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from campaigns.model import BigId, _in
from newsletter.db import Base
from subscribers.addresses import Address

EventType = Literal[
    "processed",  # the provider accepted the message for delivery
    "delivered",  # the receiving server accepted it
    "deferred",  # the receiving server asked to try later (a soft bounce, for now)
    "bounced",  # the receiving server refused it: bounce_type hard or soft
    "dropped",  # the provider did not even try (suppressed, invalid address …)
    "opened",
    "clicked",
    "complained",  # marked as spam
    "unsubscribed",
    "resubscribed",
    "other",  # a provider event type we do not know (kept, counted nowhere)
]
EVENT_TYPES: tuple[EventType, ...] = get_args(EventType)
EventSource = Literal["sendgrid", "first-party"]
EVENT_SOURCES: tuple[EventSource, ...] = get_args(EventSource)
BounceType = Literal["hard", "soft"]

# Column sizes; longer provider values are clipped (the raw event keeps them whole).
EVENT_ID_LENGTH = 255
REASON_LENGTH = 1000
URL_LENGTH = 2000
USER_AGENT_LENGTH = 500


class Event(Base):
    """One tracking event, normalised; ``raw`` is the provider's event as it arrived."""

    __tablename__ = "events"
    __table_args__ = (
        UniqueConstraint("source", "event_id"),
        CheckConstraint(_in("type", EVENT_TYPES), name="type"),
        CheckConstraint(_in("source", EVENT_SOURCES), name="source"),
        CheckConstraint("bounce_type IS NULL OR bounce_type IN ('hard', 'soft')", name="bounce"),
        # reports (per campaign), engagement rules and soft-bounce streaks (per subscriber),
        # erasure of events tied to nobody (by address hash); nothing more: every index
        # costs each of a webhook batch's thousand inserts
        Index("ix_events_campaign_type", "campaign_id", "type"),
        Index("ix_events_subscriber_type_occurred", "subscriber_id", "type", "occurred_at"),
        Index(
            "ix_events_untied_email_hash",
            "email_hash",
            postgresql_where=text("subscriber_id IS NULL"),
            sqlite_where=text("subscriber_id IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    source: Mapped[str] = mapped_column(String(12))
    event_id: Mapped[str] = mapped_column(
        String(EVENT_ID_LENGTH),
        doc="The provider's event id (SendGrid: sg_event_id); first-party: made from the hit.",
    )
    type: Mapped[str] = mapped_column(String(12))
    occurred_at: Mapped[datetime] = mapped_column(doc="When it happened (the provider's time).")
    received_at: Mapped[datetime]
    delivery_id: Mapped[int | None] = mapped_column(BigInteger)
    campaign_id: Mapped[int | None]
    variant_id: Mapped[int | None]
    subscriber_id: Mapped[int | None]
    email_hash: Mapped[str | None] = mapped_column(
        String(64), doc="SHA-256 of the address the event names (the address is in `raw`)."
    )
    machine: Mapped[bool] = mapped_column(default=False)
    machine_reason: Mapped[str | None] = mapped_column(String(20))
    bounce_type: Mapped[str | None] = mapped_column(String(4))
    reason: Mapped[str | None] = mapped_column(
        String(REASON_LENGTH), doc="Bounce or drop reason, or the receiving server's answer."
    )
    smtp_status: Mapped[str | None] = mapped_column(String(20))
    url: Mapped[str | None] = mapped_column(String(URL_LENGTH))
    link_id: Mapped[str | None] = mapped_column(String(20))
    brief_slug: Mapped[str | None] = mapped_column(String(200))
    section: Mapped[str | None] = mapped_column(String(20))
    narrative: Mapped[str | None] = mapped_column(String(200))
    user_agent: Mapped[str | None] = mapped_column(String(USER_AGENT_LENGTH))
    raw: Mapped[dict[str, Any] | None]


class SubscriberEngagement(Base):
    """When each reader last showed they read a newsletter, kept up to date at ingest.

    Engagement rules ("opened in the last 30 days") read one row per reader here instead of
    every event ever stored, and keep working after old events are pruned. Only human
    engagement counts, as in :func:`campaigns.engagement.human_engagement`: a human open or
    a reader's click (which proves an open); ``last_clicked_at`` is the click alone.
    """

    __tablename__ = "subscriber_engagement"
    __table_args__ = (
        Index("ix_subscriber_engagement_opened", "last_opened_at"),
        Index("ix_subscriber_engagement_clicked", "last_clicked_at"),
    )

    subscriber_id: Mapped[int] = mapped_column(
        ForeignKey("subscribers.id", ondelete="CASCADE"), primary_key=True
    )
    last_opened_at: Mapped[datetime | None]
    last_clicked_at: Mapped[datetime | None]


# Sections of our own links (view online, preferences, unsubscribe): a click there is no
# interest in the content, so it counts in no click figure (SendGrid tracks them too).
OWN_LINK_SECTIONS: tuple[str, ...] = ("masthead", "toc", "footer", "confirm", "keep")


def reader_click() -> ColumnElement[bool]:
    """SQL: a reader's click on content (not a machine's, not on our own links)."""
    return and_(
        Event.type == "clicked",
        Event.machine.is_(False),
        or_(Event.section.is_(None), Event.section.not_in(OWN_LINK_SECTIONS)),
    )


# The columns a bulk insert writes (everything but the generated id).
EVENT_COLUMNS: tuple[str, ...] = (
    "source",
    "event_id",
    "type",
    "occurred_at",
    "received_at",
    "delivery_id",
    "campaign_id",
    "variant_id",
    "subscriber_id",
    "email_hash",
    "machine",
    "machine_reason",
    "bounce_type",
    "reason",
    "smtp_status",
    "url",
    "link_id",
    "brief_slug",
    "section",
    "narrative",
    "user_agent",
    "raw",
)


@dataclass(slots=True)
class EventRecord:
    """An event on its way into the table: normalised from the provider, then resolved.

    A parser fills what the provider said (``delivery_ref``/``campaign_ref`` are the ids the
    event carries, unchecked); :mod:`campaigns.ingest` fills the delivery, campaign,
    variant and subscriber from ``deliveries`` and the link from the variant's link table.
    """

    source: EventSource
    event_id: str
    type: EventType
    occurred_at: datetime
    received_at: datetime
    email: str | None = None
    delivery_ref: int | None = None
    campaign_ref: int | None = None
    machine_reason: str | None = None
    bounce_type: BounceType | None = None
    reason: str | None = None
    smtp_status: str | None = None
    url: str | None = None
    link_id: str | None = None
    user_agent: str | None = None
    raw: dict[str, Any] | None = None
    # resolved
    delivery_id: int | None = None
    campaign_id: int | None = None
    variant_id: int | None = None
    subscriber_id: int | None = None
    email_hash: str | None = None
    brief_slug: str | None = None
    section: str | None = None
    narrative: str | None = None
    sent_at: datetime | None = None  # the delivery's, for judging clicks (not stored)
    # the delivery's recipient, set only when the event names that very address: the one
    # thing that lets an event suppress or unsubscribe anyone (not stored)
    recipient: Address | None = None

    @property
    def machine(self) -> bool:
        return self.machine_reason is not None

    def row(self) -> dict[str, Any]:
        """The row to insert (the keys of :data:`EVENT_COLUMNS`)."""
        return {
            "source": self.source,
            "event_id": self.event_id,
            "type": self.type,
            "occurred_at": self.occurred_at,
            "received_at": self.received_at,
            "delivery_id": self.delivery_id,
            "campaign_id": self.campaign_id,
            "variant_id": self.variant_id,
            "subscriber_id": self.subscriber_id,
            "email_hash": self.email_hash,
            "machine": self.machine,
            "machine_reason": self.machine_reason,
            "bounce_type": self.bounce_type,
            "reason": self.reason,
            "smtp_status": self.smtp_status,
            "url": self.url,
            "link_id": self.link_id,
            "brief_slug": self.brief_slug,
            "section": self.section,
            "narrative": self.narrative,
            "user_agent": self.user_agent,
            "raw": self.raw,
        }
