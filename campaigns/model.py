"""Tables of what is sent: campaigns, their briefs and segments, frozen variants, deliveries.

A delivery row is the unit of truth for one recipient of one campaign. Its state machine::

    queued ──claim──▶ sending ──provider answered──▶ sent | failed
       ▲                 │
       │                 ├─ retryable error, or credentials refused ──▶ queued (not accepted)
       │                 ├─ ambiguous answer, or lease ran out ────────▶ unknown
       ├── --retry-unknown (a person's decision) ◀── unknown ──provider's event──▶ sent
       └── quarantine passed, no evidence, campaign allows it ◀┘
    queued ──subscriber left before their turn──▶ skipped

``sending`` is committed *before* the provider is called, so a crash can never lead to a
silent resend: rows whose lease runs out become ``unknown``; the provider's events settle
them as ``sent`` (:mod:`campaigns.unknowns`), and those without evidence are only resent on
purpose: by a person, or after a quarantine when the campaign says so.
``(campaign_id, subscriber_id)`` is unique, so nobody is queued twice.
"""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any, Literal

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    Double,
    Float,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    Time,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from campaigns.states import CampaignStatus, DeliveryStatus
from newsletter.db import Base, utcnow

CAMPAIGN_STATUSES: tuple[CampaignStatus, ...] = tuple(CampaignStatus)
DELIVERY_STATUSES: tuple[DeliveryStatus, ...] = tuple(DeliveryStatus)
CampaignKind = Literal["manual", "digest"]

# SQLite only auto-increments an INTEGER PRIMARY KEY; PostgreSQL gets a 64-bit key.
BigId = BigInteger().with_variant(Integer(), "sqlite")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(str(v)) for v in values)})"


def _is_status(status: DeliveryStatus) -> str:
    """A partial index's condition (text: the index is declared the same on both dialects)."""
    return f"status = '{status.value}'"


class Campaign(Base):
    """One issue of the newsletter: which briefs, for which segments, when, and its progress."""

    __tablename__ = "campaigns"
    __table_args__ = (
        CheckConstraint(_in("status", CAMPAIGN_STATUSES), name="status"),
        CheckConstraint(_in("kind", ("manual", "digest")), name="kind"),
        Index("ix_campaigns_status_send_at", "status", "send_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(10), default="manual")
    digest_week: Mapped[str | None] = mapped_column(
        String(8), unique=True, doc="ISO week of a weekly digest ('2026-W48'): one per week."
    )
    subject_template: Mapped[str | None] = mapped_column(String(300))
    preheader_template: Mapped[str | None] = mapped_column(String(300))
    issue_date: Mapped[date]
    status: Mapped[str] = mapped_column(String(10), default=CampaignStatus.DRAFT)
    status_reason: Mapped[str | None] = mapped_column(
        String(2000), doc="Why the campaign is paused or stopped, in words for a person."
    )
    send_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    frozen_at: Mapped[datetime | None]
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    sent_reported_at: Mapped[datetime | None] = mapped_column(
        doc="When the outbound ``campaign.sent`` report was queued: the first time the "
        "campaign finished (it is not reported again when it sends again and finishes)."
    )
    provider: Mapped[str | None] = mapped_column(String(20))
    overrides: Mapped[list[dict[str, Any]]] = mapped_column(
        JSON,
        default=list,
        doc="Checks an editor chose to pass, each recorded as {check, reason, by, at} "
        "(campaigns.checks): a scheduled start, made by no one, relies on these.",
    )
    retry_unknown_after: Mapped[float | None] = mapped_column(
        Float,
        doc="Minutes after which an unknown delivery with no evidence from the provider is "
        "resent automatically (campaigns.unknowns); NULL: only on a person's decision.",
    )
    spread_minutes: Mapped[float | None] = mapped_column(
        Float,
        doc="The delivery window: the send is paced, across all workers, to last about this "
        "many minutes (campaigns.shaping); NULL: as fast as the limits allow.",
    )

    test_share: Mapped[float | None] = mapped_column(
        Float,
        doc="A subject test: the share of the audience each subject's test cell gets "
        "(campaigns.subject_tests); NULL: no test.",
    )
    test_wait: Mapped[float | None] = mapped_column(
        Float, doc="Minutes after the freeze at which the subject test is decided."
    )
    test_decided_at: Mapped[datetime | None] = mapped_column(
        doc="When the subject test was decided (once, by whichever scheduler came first)."
    )
    test_winner: Mapped[int | None] = mapped_column(
        SmallInteger,
        doc="The winning subject's position (0: the campaign's own subject); NULL once "
        "decided: no clear winner, the first subject went to the rest.",
    )
    local_send_time: Mapped[time | None] = mapped_column(
        Time,
        doc="Send at this time of day on each reader's own clock (subscribers.time_zone): "
        "the freeze gives each delivery the next such moment as its not_before; NULL: at once.",
    )

    brief_titles: Mapped[list[str] | None] = mapped_column(
        JSON,
        doc="The briefs' titles as they were at the freeze, in the campaign's order: what the "
        "archive index and its feed list, so a brief renamed later does not rename a sent "
        "issue. NULL before the freeze.",
    )
    archive_html: Mapped[str | None] = mapped_column(
        Text,
        deferred=True,
        doc="The issue as the public archive shows it (campaigns.archive_page), made at freeze: "
        "every brief and narrative, nothing personal. NULL before the freeze, and for "
        "campaigns frozen before it existed (the archive shows their first variant then).",
    )

    subject_candidates: Mapped[list[SubjectCandidate]] = relationship(
        order_by="SubjectCandidate.position", cascade="all, delete-orphan", lazy="selectin"
    )
    briefs: Mapped[list[CampaignBrief]] = relationship(
        order_by="CampaignBrief.position", cascade="all, delete-orphan", lazy="selectin"
    )
    segments: Mapped[list[CampaignSegment]] = relationship(
        order_by="CampaignSegment.position", cascade="all, delete-orphan", lazy="selectin"
    )


class CampaignBrief(Base):
    __tablename__ = "campaign_briefs"

    campaign_id: Mapped[int] = mapped_column(
        ForeignKey("campaigns.id", ondelete="CASCADE"), primary_key=True
    )
    position: Mapped[int] = mapped_column(primary_key=True)
    brief_id: Mapped[int] = mapped_column(ForeignKey("briefs.id", ondelete="RESTRICT"), index=True)


class SubjectCandidate(Base):
    """Another subject (and preheader) a subject test tries against the campaign's own;
    positions start at 1 (0 is the campaign's ``subject_template``)."""

    __tablename__ = "subject_candidates"

    campaign_id: Mapped[int] = mapped_column(
        ForeignKey("campaigns.id", ondelete="CASCADE"), primary_key=True
    )
    position: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    subject: Mapped[str] = mapped_column(String(300))
    preheader: Mapped[str | None] = mapped_column(String(300))


class CampaignSegment(Base):
    __tablename__ = "campaign_segments"

    campaign_id: Mapped[int] = mapped_column(
        ForeignKey("campaigns.id", ondelete="CASCADE"), primary_key=True
    )
    position: Mapped[int] = mapped_column(primary_key=True)
    segment_id: Mapped[int] = mapped_column(
        ForeignKey("segments.id", ondelete="RESTRICT"), index=True
    )


class Variant(Base):
    """A frozen variant: exactly what one segment's recipients were sent (with placeholders)."""

    __tablename__ = "campaign_variants"
    __table_args__ = (UniqueConstraint("campaign_id", "position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(doc="Match order: the first matching segment wins.")
    segment_id: Mapped[int | None] = mapped_column(
        ForeignKey("segments.id", ondelete="SET NULL"), doc="NULL: the 'everyone' variant."
    )
    name: Mapped[str] = mapped_column(String(100))
    subject: Mapped[str] = mapped_column(String(1000))
    preheader: Mapped[str] = mapped_column(String(1000))
    html: Mapped[str] = mapped_column(Text)
    text: Mapped[str] = mapped_column(Text)
    web_html: Mapped[str] = mapped_column(
        Text, doc="The web version: every brief, no personal data, no tracking."
    )
    links: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    warnings: Mapped[list[str]] = mapped_column(default=list)
    brief_slugs: Mapped[list[str]] = mapped_column(default=list)
    online_slugs: Mapped[list[str]] = mapped_column(default=list)
    options: Mapped[dict[str, Any]] = mapped_column(default=dict)
    size_bytes: Mapped[int]
    track_opens: Mapped[bool] = mapped_column(default=False)
    track_clicks: Mapped[bool] = mapped_column(default=False)
    envelope: Mapped[dict[str, Any]] = mapped_column(
        doc="Sender, reply-to, list headers, tracking and provider as frozen "
        "(campaigns.envelope.Envelope): batches are built from this, never from settings."
    )
    choice: Mapped[dict[str, Any] | None] = mapped_column(
        JSON,
        doc="NULL: a segment's own variant. Else the readers' own choice it was compiled for: "
        "{segment, narratives, topics} (campaigns.choices).",
    )
    cell: Mapped[int | None] = mapped_column(
        SmallInteger,
        doc="A subject test's cell (the candidate's position) this variant was compiled for; "
        "NULL: the variant of everyone else (in a test: the rest, held until decided).",
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class VariantChoice(Base):
    """One combination of (segment, narrative mode, topics) present in a campaign's audience
    at the freeze, and the variant its readers were given: how deliveries were assigned, and
    what a report by choice groups."""

    __tablename__ = "campaign_variant_choices"

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(
        ForeignKey("campaigns.id", ondelete="CASCADE"), index=True
    )
    variant_id: Mapped[int] = mapped_column(ForeignKey("campaign_variants.id", ondelete="CASCADE"))
    segment_position: Mapped[int] = mapped_column(doc="The segment's place in match order.")
    narratives: Mapped[str] = mapped_column(String(12))
    topics_key: Mapped[str] = mapped_column(
        Text,
        doc="The subscribers' topics column as this database renders it as text: the join key "
        "of the freeze's INSERT … SELECT, so it must be read and matched the same way.",
    )
    topics: Mapped[list[str]] = mapped_column(JSON, default=list)
    readers: Mapped[int] = mapped_column(doc="Readers with this combination at the freeze.")


FINGERPRINT_LENGTH = 16
"""Hex digits of a recipient's address digest a delivery keeps: 64 bits, so an event whose
address differs from the recipient's matches by chance once in 2**64."""


class Delivery(Base):
    """One recipient of one campaign, and where their message is in the state machine."""

    __tablename__ = "deliveries"
    __table_args__ = (
        UniqueConstraint("campaign_id", "subscriber_id"),
        CheckConstraint(_in("status", DELIVERY_STATUSES), name="status"),
        # Partial indexes: a row leaves them when it leaves 'queued' / 'sending', so the
        # two updates every recipient goes through maintain as few index entries as possible
        # (claiming and recording 1,000 rows were most of a batch's database time).
        Index(
            "ix_deliveries_queued",
            "campaign_id",
            "variant_id",
            "id",
            postgresql_where=text(_is_status(DeliveryStatus.QUEUED)),
            sqlite_where=text(_is_status(DeliveryStatus.QUEUED)),
        ),
        # Rows of a campaign sent at the readers' local time (not_before set): claims take
        # the due ones (not_before <= now) in this index's order, so they never read the
        # rows whose hour has not come (campaigns.store).
        Index(
            "ix_deliveries_queued_local",
            "campaign_id",
            "not_before",
            "variant_id",
            "id",
            postgresql_where=text(
                _is_status(DeliveryStatus.QUEUED) + " AND not_before IS NOT NULL"
            ),
            sqlite_where=text(_is_status(DeliveryStatus.QUEUED) + " AND not_before IS NOT NULL"),
        ),
        Index(
            "ix_deliveries_sending",
            "lease_until",
            postgresql_where=text(_is_status(DeliveryStatus.SENDING)),
            sqlite_where=text(_is_status(DeliveryStatus.SENDING)),
        ),
        Index(
            "ix_deliveries_unknown",
            "campaign_id",
            "updated_at",
            postgresql_where=text(_is_status(DeliveryStatus.UNKNOWN)),
            sqlite_where=text(_is_status(DeliveryStatus.UNKNOWN)),
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    variant_id: Mapped[int] = mapped_column(ForeignKey("campaign_variants.id", ondelete="CASCADE"))
    subscriber_id: Mapped[int] = mapped_column(
        ForeignKey("subscribers.id", ondelete="CASCADE"), index=True
    )
    status: Mapped[str] = mapped_column(String(8), default=DeliveryStatus.QUEUED)
    attempts: Mapped[int] = mapped_column(default=0)
    worker: Mapped[str | None] = mapped_column(String(100))
    lease_until: Mapped[datetime | None]
    message_id: Mapped[str | None] = mapped_column(String(200))
    error: Mapped[str | None] = mapped_column(String(2000))
    sent_at: Mapped[datetime | None]
    updated_at: Mapped[datetime | None]
    not_before: Mapped[datetime | None] = mapped_column(
        doc="Not sent before this moment: the reader's local send time (newsletter.zones); "
        "NULL: as soon as a worker claims it."
    )
    resent_after_unknown_at: Mapped[datetime | None] = mapped_column(
        doc="When this row, unknown with no evidence past its quarantine, was queued again."
    )
    cell: Mapped[int | None] = mapped_column(
        SmallInteger,
        doc="A subject test's cell (candidate position) this recipient was dealt to; NULL: "
        "the rest, not claimed until the test is decided (campaigns.subject_tests).",
    )
    recipient_fingerprint: Mapped[str | None] = mapped_column(
        String(FINGERPRINT_LENGTH),
        doc="The first hex digits of the recipient's email_hash (SHA-256 of their lookup "
        "key), copied at the freeze: what ties a provider event naming an address to this "
        "delivery without reading the subscriber (campaigns.ingest). NULL once the subscriber "
        "is erased (campaigns.personal_data).",
    )


class SendPacing(Base):
    """The next free sending moment of one pacing key (a provider's per-second limit, a
    campaign's delivery window), shared by every worker (campaigns.shaping)."""

    __tablename__ = "send_pacing"

    key: Mapped[str] = mapped_column(String(300), primary_key=True)
    free_at: Mapped[float] = mapped_column(
        Double(),
        doc="Seconds since the Unix epoch (UTC) from which the next batch may go: a number, "
        "so that one UPDATE … RETURNING can advance it on both databases.",
    )


class SendQuota(Base):
    """Messages counted in the current hour or day window of one key (a provider's hourly
    or daily limit, a From domain's warm-up), shared by every worker (campaigns.shaping)."""

    __tablename__ = "send_quotas"
    __table_args__ = (CheckConstraint("period IN ('hour', 'day')", name="period"),)

    key: Mapped[str] = mapped_column(String(300), primary_key=True)
    period: Mapped[str] = mapped_column(String(4), primary_key=True)
    starts_at: Mapped[datetime] = mapped_column(doc="Start of the window `used` counts in.")
    used: Mapped[int] = mapped_column(default=0)
    granted: Mapped[int] = mapped_column(
        default=0, doc="What the last request was given (read back by the same UPDATE)."
    )


class SendingDomain(Base):
    """A From domain and the day it first sent: day 1 of its warm-up (campaigns.shaping)."""

    __tablename__ = "sending_domains"

    domain: Mapped[str] = mapped_column(String(255), primary_key=True)
    first_sent_on: Mapped[date] = mapped_column(doc="UTC day of the domain's first send.")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
