"""What subscribers tell outbound webhooks: the payload of a subscriber event, queued in the
transaction of the change (:func:`newsletter.webhooks.queue.queue_events`).

A payload carries what a CMS needs to match its own records and no more: the subscriber's
uid and address, the new status and when.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from newsletter.db import utcnow
from newsletter.webhooks.model import EventType
from newsletter.webhooks.queue import queue_events

# The event a suppression reason reports (an erasure reports nothing: the person is gone).
EVENT_FOR_STATUS: dict[str, EventType] = {
    "active": EventType.SUBSCRIBER_CONFIRMED,
    "unsubscribed": EventType.SUBSCRIBER_UNSUBSCRIBED,
    "bounced": EventType.SUBSCRIBER_BOUNCED,
    "complained": EventType.SUBSCRIBER_COMPLAINED,
}


def subscriber_data(uid: str, email: str | None, status: str, at: datetime) -> dict[str, Any]:
    return {"subscriber_uid": uid, "email": email, "status": status, "at": at.isoformat()}


def report_status(
    session: Session,
    changed: Iterable[tuple[str, str | None]],
    status: str,
    *,
    now: datetime | None = None,
) -> int:
    """Queue the event for subscribers ``(uid, email)`` that took ``status`` just now."""
    event = EVENT_FOR_STATUS.get(status)
    if event is None:
        return 0
    at = now or utcnow()
    return queue_events(
        session, ((event, subscriber_data(uid, email, status, at)) for uid, email in changed)
    )
