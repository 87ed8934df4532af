"""Tables of who receives the newsletter: subscribers, their consent, suppressions, segments.

Also the small outgoing-mail queue for confirmation mails, so a signup request only writes
rows and a worker sends the mail (see :mod:`subscribers.confirmations`).

A subscriber is known to the outside world only by ``uid``, a random public id that signed
links carry; the integer ``id`` never leaves the database. The address is kept three ways:
``email`` as the person wrote it (domain lower-cased, IDN in Unicode), ``email_key`` the
unique lookup form (all lower-case, ASCII domain) and ``email_hash`` (SHA-256 of the key),
which is what a suppression stores, so that an erased address is never kept in clear.
"""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any, Literal, cast, get_args

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, String, Table, Text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from newsletter.db import Base, utcnow

SubscriberStatus = Literal["pending", "active", "unsubscribed", "bounced", "complained"]
STATUSES: tuple[SubscriberStatus, ...] = get_args(SubscriberStatus)
NARRATIVE_DISPLAYS = ("all", "facts-only", "no-forecast")
SuppressionReason = Literal["erased", "bounced", "complained", "manual"]
ConsentKind = Literal["signup", "confirm", "preferences", "unsubscribe", "import", "add"]
MailStatus = Literal["queued", "sending", "sent", "failed", "skipped"]
MailKind = Literal["confirmation", "keep", "fresh-link"]
MAIL_KINDS: tuple[MailKind, ...] = get_args(MailKind)

# JSON everywhere, JSONB on PostgreSQL: segment rules use its containment and key operators.
JSONDocument = JSON().with_variant(JSONB(), "postgresql")


# The columns a new subscriber is written with by the multi-row and one-statement inserts.
NEW_SUBSCRIBER_COLUMNS = (
    "uid",
    "email",
    "email_key",
    "email_hash",
    "name",
    "status",
    "topics",
    "narratives",
    "attributes",
    "source",
    "created_at",
)


def new_uid() -> str:
    """A random public id for links (128 bits, URL-safe, never contains '.')."""
    return secrets.token_urlsafe(16)


def table_of(model: type[Base]) -> Table:
    """The Core table of a mapped class, for multi-row statements that skip the ORM."""
    return cast(Table, model.__table__)


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Subscriber(Base):
    """One address and what its owner chose; erased subscribers keep only their row's shell."""

    __tablename__ = "subscribers"
    __table_args__ = (
        CheckConstraint(_in("status", STATUSES), name="status"),
        CheckConstraint(_in("narratives", NARRATIVE_DISPLAYS), name="narratives"),
        Index("ix_subscribers_status_created_at", "status", "created_at"),
        Index("ix_subscribers_lapsed_at", "lapsed_at"),  # lapsed counts at past dates
        Index("ix_subscribers_confirmed_at", "confirmed_at"),  # "confirmed" segment rules
        Index("ix_subscribers_welcome_from", "welcome_from"),  # who a welcome step is due to
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    uid: Mapped[str] = mapped_column(String(32), unique=True, default=new_uid)
    email: Mapped[str | None] = mapped_column(String(320))
    email_key: Mapped[str | None] = mapped_column(String(320), unique=True)
    email_hash: Mapped[str | None] = mapped_column(
        String(64), doc="Not indexed: lookups go by email_key; suppression joins by its own key."
    )
    name: Mapped[str | None] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(12), default="pending")
    topics: Mapped[list[str]] = mapped_column(JSONDocument, default=list)
    narratives: Mapped[str] = mapped_column(String(12), default="all")
    attributes: Mapped[dict[str, Any]] = mapped_column(JSONDocument, default=dict)
    source: Mapped[str | None] = mapped_column(
        String(100), doc="Where the signup came from: 'web', 'import', a form's own label …"
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    confirmed_at: Mapped[datetime | None]
    welcome_from: Mapped[datetime | None] = mapped_column(
        doc="When this reader's welcome series starts (step delays count from it); NULL: "
        "never. Set on a double opt-in confirmation; a confirmed import or add sets it only "
        "when asked to (``--welcome``, the API's ``welcome``)."
    )
    unsubscribed_at: Mapped[datetime | None]
    erased_at: Mapped[datetime | None]
    confirmation_sent_at: Mapped[datetime | None] = mapped_column(
        doc="When a confirmation mail was last queued: repeat signups are throttled by it."
    )
    # The sunset policy (campaigns.sunset): three nullable columns rather than a new status,
    # so that adding them never rebuilds this table (its foreign keys cascade).
    reengage_sent_at: Mapped[datetime | None] = mapped_column(
        doc="When a 'keep me subscribed' mail was queued and not yet answered (NULL: none)."
    )
    lapsed_at: Mapped[datetime | None] = mapped_column(
        doc="When the reader lapsed (no answer in the grace): not mailed until revived."
    )
    kept_at: Mapped[datetime | None] = mapped_column(
        doc="When the reader last asked to stay (button, click, re-signup): the next ask "
        "needs N unengaged issues sent after it."
    )
    time_zone: Mapped[str | None] = mapped_column(
        String(64),
        doc="IANA name of the reader's clock (signup form, preferences, import); NULL: "
        "NEWSLETTER_DEFAULT_TIME_ZONE. Campaigns sent at local time use it (newsletter.zones).",
    )


class ConsentRecord(Base):
    """Evidence of what a person asked for, when and from where (double opt-in proof)."""

    __tablename__ = "consent_records"
    __table_args__ = (
        CheckConstraint(
            _in("kind", ("signup", "confirm", "preferences", "unsubscribe", "import", "add")),
            name="kind",
        ),
        Index("ix_consent_records_kind_at", "kind", "at"),  # revivals since a date
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    subscriber_id: Mapped[int] = mapped_column(
        ForeignKey("subscribers.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(12))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    ip: Mapped[str | None] = mapped_column(String(45))
    user_agent: Mapped[str | None] = mapped_column(String(500))
    source: Mapped[str | None] = mapped_column(String(100))
    form: Mapped[dict[str, Any]] = mapped_column(default=dict)


class Suppression(Base):
    """An address that must never be mailed again, kept only as the SHA-256 of its key."""

    __tablename__ = "suppressions"
    __table_args__ = (
        CheckConstraint(
            _in("reason", ("erased", "bounced", "complained", "manual")), name="reason"
        ),
    )

    email_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    reason: Mapped[str] = mapped_column(String(12))
    at: Mapped[datetime] = mapped_column(default=utcnow)


class Segment(Base):
    """A named rule over subscribers plus the options of the variant its members receive."""

    __tablename__ = "segments"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    position: Mapped[int] = mapped_column(
        default=0, server_default="0", doc="Where editors put it in the segment list."
    )
    description: Mapped[str | None] = mapped_column(Text)
    rule: Mapped[dict[str, Any]] = mapped_column(doc="A segment rule (subscribers.segments).")
    options: Mapped[dict[str, Any]] = mapped_column(
        doc="VariantOptions of this segment's variant (newsletter.render.options)."
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    modified_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class QueuedMail(Base):
    """A transactional mail to send outside the request that caused it: a confirmation, or
    a sunset policy's 'keep me subscribed' question.

    ``queued`` rows whose ``available_at`` has come are claimed (``sending`` with a lease
    until ``locked_until``), then marked ``sent`` or, after ``attempts`` reach the limit,
    ``failed``; ``skipped`` when the subscriber no longer waits for it. A ``sending`` row
    whose lease ran out is claimed again (at-least-once).
    """

    __tablename__ = "mail_queue"
    __table_args__ = (
        CheckConstraint(
            _in("status", ("queued", "sending", "sent", "failed", "skipped")), name="status"
        ),
        CheckConstraint(_in("kind", MAIL_KINDS), name="kind"),
        Index("ix_mail_queue_status_available_at", "status", "available_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    subscriber_id: Mapped[int] = mapped_column(
        ForeignKey("subscribers.id", ondelete="CASCADE"), index=True
    )
    status: Mapped[str] = mapped_column(String(10), default="queued")
    attempts: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    available_at: Mapped[datetime] = mapped_column(default=utcnow)
    locked_until: Mapped[datetime | None]
    sent_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(String(1000))
