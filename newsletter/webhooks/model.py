"""The ``webhook_endpoints`` and ``webhook_messages`` tables: who wants which events, and the
outbox of signed deliveries to them.

A message row is written in the same transaction as the change it reports
(:func:`newsletter.webhooks.queue.queue_event`), so a rolled-back change reports nothing and
a committed one is never lost; the sender (:mod:`newsletter.webhooks.sender`) delivers it
later, at least once, with the same ``webhook-id`` on every attempt.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from newsletter.db import Base, utcnow


class EventType(StrEnum):
    """What an endpoint can subscribe to (``webhook.test`` is sent on request only)."""

    SUBSCRIBER_CONFIRMED = "subscriber.confirmed"
    SUBSCRIBER_UNSUBSCRIBED = "subscriber.unsubscribed"
    SUBSCRIBER_BOUNCED = "subscriber.bounced"
    SUBSCRIBER_COMPLAINED = "subscriber.complained"
    CAMPAIGN_STARTED = "campaign.started"
    CAMPAIGN_SENT = "campaign.sent"


TEST_EVENT = "webhook.test"
EVENT_TYPES: tuple[str, ...] = tuple(event.value for event in EventType)


class MessageStatus(StrEnum):
    """Where a message is: waiting for an attempt, accepted with a 2xx, or given up on."""

    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"


_STATUSES = ", ".join(f"'{status.value}'" for status in MessageStatus)
RESPONSE_LIMIT = 1024  # characters of a response body kept in the delivery log
ERROR_LIMIT = 500


class WebhookEndpoint(Base):
    """One receiver: its URL, the events it wants, and the secret its messages are signed with."""

    __tablename__ = "webhook_endpoints"

    id: Mapped[int] = mapped_column(primary_key=True)
    url: Mapped[str] = mapped_column(String(2000))
    events: Mapped[list[str]] = mapped_column(default=list)
    secret: Mapped[str] = mapped_column(
        String(100), doc="whsec_ + base64 of 32 random bytes (Standard Webhooks)."
    )
    enabled: Mapped[bool] = mapped_column(default=True)
    created_by: Mapped[str] = mapped_column(String(320))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class WebhookMessage(Base):
    """One event for one endpoint, and how its delivery went so far (the delivery log)."""

    __tablename__ = "webhook_messages"
    __table_args__ = (
        CheckConstraint(f"status IN ({_STATUSES})", name="status"),
        Index("ix_webhook_messages_due", "status", "next_attempt_at"),
        Index("ix_webhook_messages_endpoint_id", "endpoint_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    endpoint_id: Mapped[int] = mapped_column(ForeignKey("webhook_endpoints.id", ondelete="CASCADE"))
    event_type: Mapped[str] = mapped_column(String(40))
    payload: Mapped[dict[str, Any]]
    msg_id: Mapped[str] = mapped_column(String(40), unique=True)
    status: Mapped[str] = mapped_column(String(10), default=MessageStatus.PENDING)
    attempts: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    next_attempt_at: Mapped[datetime]
    last_attempt_at: Mapped[datetime | None]
    last_status_code: Mapped[int | None]
    last_response: Mapped[str | None] = mapped_column(Text())
    last_error: Mapped[str | None] = mapped_column(String(ERROR_LIMIT))
    delivered_at: Mapped[datetime | None]
