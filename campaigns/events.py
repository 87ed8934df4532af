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

Events are kept for years, so a row holds only the normalised event, in compact types: the
type and source are small integer codes (:class:`Coded` maps them to and from the names the
code uses), the address hash is kept only for events tied to nobody (a tied event's
subscriber has it). What is bulky and only needed for a while (the provider's raw event,
the user agent, when we received it) goes to ``event_batches``, one row per recorded batch
(:class:`EventBatch`), dropped
after ``NEWSLETTER_EVENT_PAYLOAD_DAYS`` by ``newsletter events prune``
(:mod:`campaigns.retention`).

On PostgreSQL ``events`` is partitioned by month of ``occurred_at`` (declarative RANGE
partitioning, one partition per month and a DEFAULT one; :mod:`campaigns.partitions`), so
old history is dropped a month at a time. A unique key on a partitioned table must include
the partition key, so the de-duplication key is ``(event_id, source, occurred_at)``: a
provider's replay carries the same event time. Events whose time a replay may not repeat
(a first-party hit, stamped when it is requested; an event without a time of its own) are
looked up by ``(source, event_id)`` before they are inserted (:mod:`campaigns.ingest`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, get_args

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    ColumnElement,
    Dialect,
    ForeignKey,
    Index,
    SmallInteger,
    String,
    TypeDecorator,
    UniqueConstraint,
    and_,
    or_,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from campaigns.model import BigId
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

# The stored codes of event types and sources: fixed forever (rows keep them), so a new
# type gets a new number and none is reused.
TYPE_CODES: dict[str, int] = {
    "other": 0,
    "processed": 1,
    "delivered": 2,
    "deferred": 3,
    "bounced": 4,
    "dropped": 5,
    "opened": 6,
    "clicked": 7,
    "complained": 8,
    "unsubscribed": 9,
    "resubscribed": 10,
}
SOURCE_CODES: dict[str, int] = {"sendgrid": 1, "first-party": 2}
assert set(TYPE_CODES) == set(EVENT_TYPES) and set(SOURCE_CODES) == set(EVENT_SOURCES)


class Coded(TypeDecorator[str]):
    """A name stored as its ``smallint`` code: 2 bytes a row instead of the name's length.

    Comparisons in SQL take the name (``Event.type == "clicked"``), results give it back;
    a name with no code is a :class:`ValueError`, never a silent NULL."""

    impl = SmallInteger()
    cache_ok = True

    def __init__(self, codes: dict[str, int]) -> None:
        super().__init__()
        self.codes = tuple(codes.items())  # hashable: it is part of the statement cache key
        self._code = dict(codes)
        self._name = {code: name for name, code in codes.items()}

    def process_bind_param(self, value: str | None, dialect: Dialect) -> int | None:
        if value is None:
            return None
        try:
            return self._code[value]
        except KeyError:
            raise ValueError(f"{value!r} is none of {', '.join(self._code)}") from None

    def process_result_value(self, value: int | None, dialect: Dialect) -> str | None:
        return None if value is None else self._name[value]


def _codes_check(column: str, codes: dict[str, int]) -> str:
    return f"{column} IN ({', '.join(str(code) for code in sorted(codes.values()))})"


# Column sizes; longer provider values are clipped (the raw event keeps them whole).
EVENT_ID_LENGTH = 255
REASON_LENGTH = 1000
URL_LENGTH = 2000
USER_AGENT_LENGTH = 500


class Event(Base):
    """One tracking event, normalised; its raw provider event is in :class:`EventBatch`
    for a while."""

    __tablename__ = "events"
    __table_args__ = (
        UniqueConstraint("event_id", "source", "occurred_at"),
        CheckConstraint(_codes_check("type", TYPE_CODES), name="type"),
        CheckConstraint(_codes_check("source", SOURCE_CODES), name="source"),
        CheckConstraint("bounce_type IS NULL OR bounce_type IN ('hard', 'soft')", name="bounce"),
        # a subscriber's activity, soft-bounce streaks and unknown deliveries' evidence (per
        # subscriber), erasure of events tied to nobody (by address hash); nothing more:
        # every index costs each of a webhook batch's thousand inserts, and bytes on disk
        # for years (reports read the rollups, so none goes by campaign: migration 0035)
        Index("ix_events_subscriber_type_occurred", "subscriber_id", "type", "occurred_at"),
        Index(
            "ix_events_untied_email_hash",
            "email_hash",
            postgresql_where=text("subscriber_id IS NULL"),
            sqlite_where=text("subscriber_id IS NULL"),
        ),
        {"postgresql_partition_by": "RANGE (occurred_at)", "sqlite_autoincrement": True},
    )

    # SQLite: the rowid. PostgreSQL: a sequence's number, not a key (a key of a partitioned
    # table would have to include occurred_at; nothing looks an event up by id alone).
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    source: Mapped[str] = mapped_column(Coded(SOURCE_CODES))
    event_id: Mapped[str] = mapped_column(
        String(EVENT_ID_LENGTH),
        doc="The provider's event id (SendGrid: sg_event_id); first-party: made from the hit.",
    )
    type: Mapped[str] = mapped_column(Coded(TYPE_CODES))
    occurred_at: Mapped[datetime] = mapped_column(doc="When it happened (the provider's time).")
    delivery_id: Mapped[int | None] = mapped_column(BigInteger)
    campaign_id: Mapped[int | None]
    variant_id: Mapped[int | None]
    subscriber_id: Mapped[int | None]
    email_hash: Mapped[str | None] = mapped_column(
        String(64),
        doc="SHA-256 of the address an event tied to nobody names (a tied event's subscriber "
        "has it): what erasure finds untied events by.",
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


class EventBatch(Base):
    """What the events recorded together came with, kept only for a while
    (``NEWSLETTER_EVENT_PAYLOAD_DAYS``): for each, the provider's raw event and the user agent.

    One row per recorded batch (a webhook POST, a pixel hit) and time of arrival, not one
    per event: a webhook batch writes one row of a thousand entries instead of a thousand
    rows. ``events`` holds ``[events.id, user agent, raw event]`` entries; ``first_event``
    and ``last_event`` bound the ids in it (batches stored at the same time overlap), which
    is how export and erasure find one event's entry (:mod:`campaigns.payloads`)."""

    __tablename__ = "event_batches"
    __table_args__ = (Index("ix_event_batches_last_event", "last_event"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    received_at: Mapped[datetime] = mapped_column(
        doc="When it arrived. Batches are numbered in the order they arrive, so the prune "
        "finds the old ones from the lowest number up, with no index on this column."
    )
    first_event: Mapped[int] = mapped_column(BigInteger, doc="The lowest ``events.id`` in it.")
    last_event: Mapped[int] = mapped_column(BigInteger, doc="The highest ``events.id`` in it.")
    size: Mapped[int] = mapped_column(doc="How many entries ``events`` holds.")
    events: Mapped[list[Any]] = mapped_column(JSON)


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


# The columns of an event row: those every event has, who it is tied to (a tied event's
# subscriber, else the address it names), and those often NULL (left out of a row's
# document, see EventRecord.row); the bulk insert writes them all but the generated id.
_ALWAYS_COLUMNS: tuple[str, ...] = ("source", "event_id", "type", "occurred_at", "machine")
_OPTIONAL_COLUMNS: tuple[str, ...] = (
    "delivery_id",
    "campaign_id",
    "variant_id",
    "machine_reason",
    "bounce_type",
    "reason",
    "smtp_status",
    "url",
    "link_id",
    "brief_slug",
    "section",
    "narrative",
)
EVENT_COLUMNS: tuple[str, ...] = (
    *_ALWAYS_COLUMNS,
    "subscriber_id",
    "email_hash",
    *_OPTIONAL_COLUMNS,
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
    # False when a replay of this event may carry another occurred_at (a first-party hit,
    # an event without a time of its own): ingest then looks it up by (source, event_id)
    replay_keeps_time: bool = True
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
        """The row to insert, codes for names (a bulk insert sends values as they are
        stored), without the columns that are NULL: most of an event's are, and a
        document without them is half the size for the database to take apart."""
        row = {
            "source": SOURCE_CODES[self.source],
            "event_id": self.event_id,
            "type": TYPE_CODES[self.type],
            "occurred_at": self.occurred_at,
            "machine": self.machine_reason is not None,
        }
        if self.subscriber_id is None:
            if self.email_hash is not None:
                row["email_hash"] = self.email_hash  # a tied event's subscriber has it
        else:
            row["subscriber_id"] = self.subscriber_id
        for name in _OPTIONAL_COLUMNS:
            value = getattr(self, name)
            if value is not None:
                row[name] = value
        return row
