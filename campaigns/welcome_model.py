"""Tables of the welcome series: the editor's steps, each step version's campaign, and who got what.

A step is sent through an ordinary frozen campaign (one per step *version*, so an edit never
changes what earlier readers were sent): :class:`WelcomeCampaign` says which campaign is which
step's version, so the archive can leave them out. :class:`WelcomeReceipt` is the promise that
keeps "never twice": ``(subscriber_id, step_id)`` is unique, whichever version, whichever
scheduler copy queued it.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from newsletter.db import Base, utcnow

SUBJECT_MAX = 200
BODY_MAX = 20_000
DELAY_MAX = 3650


class WelcomeStep(Base):
    """One mail of the series: sent ``delay_days`` after the reader confirmed."""

    __tablename__ = "welcome_steps"
    __table_args__ = (
        CheckConstraint(f"delay_days >= 0 AND delay_days <= {DELAY_MAX}", name="delay_days"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    position: Mapped[int] = mapped_column(doc="Order on the page; ties broken by delay.")
    delay_days: Mapped[int] = mapped_column(doc="Days after confirmation (0: the next round).")
    subject: Mapped[str] = mapped_column(String(SUBJECT_MAX))
    body: Mapped[str] = mapped_column(
        Text, doc="Plain text the editor writes; blank lines separate paragraphs."
    )
    enabled: Mapped[bool] = mapped_column(default=True)
    version: Mapped[int] = mapped_column(
        default=1, doc="Raised by every edit: a new version is frozen into a new campaign."
    )
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class WelcomeCampaign(Base):
    """The campaign a step's version is sent through (frozen once, then appended to)."""

    __tablename__ = "welcome_campaigns"
    __table_args__ = (UniqueConstraint("step_id", "version"),)

    campaign_id: Mapped[int] = mapped_column(
        ForeignKey("campaigns.id", ondelete="CASCADE"), primary_key=True
    )
    step_id: Mapped[int] = mapped_column(ForeignKey("welcome_steps.id", ondelete="CASCADE"))
    version: Mapped[int]


class WelcomeReceipt(Base):
    """A reader was queued a step (through ``campaign_id``): never again for that step."""

    __tablename__ = "welcome_receipts"
    __table_args__ = (
        UniqueConstraint("subscriber_id", "step_id"),
        Index("ix_welcome_receipts_campaign_id", "campaign_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    subscriber_id: Mapped[int] = mapped_column(ForeignKey("subscribers.id", ondelete="CASCADE"))
    step_id: Mapped[int] = mapped_column(ForeignKey("welcome_steps.id", ondelete="CASCADE"))
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    queued_at: Mapped[datetime] = mapped_column(default=utcnow)
