"""A fresh preferences link by email, for a reader whose link did not work.

A person types an address on the page of a broken preferences or unsubscribe link; if it is
subscribed (active, not suppressed), a mail with a freshly signed preferences link is queued
in the same transactional mail queue as confirmations (:mod:`subscribers.confirmations`).
The caller answers the same whatever happens here, so nobody learns whether an address is
on the list; an address gets at most one such mail per ``resend_after``, however often it
is asked for (the per-client limit is the route's).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from newsletter.db import utcnow
from subscribers.addresses import Address
from subscribers.confirmations import queue_mail
from subscribers.model import QueuedMail, Subscriber
from subscribers.suppression import is_suppressed


def request_fresh_link(
    session: Session, address: Address, *, resend_after: timedelta, now: datetime | None = None
) -> bool:
    """Queue a fresh preferences link for ``address`` if it is subscribed and had none
    within ``resend_after``; True when one was queued (for logs and tests, never shown)."""
    now = now or utcnow()
    subscriber = session.scalars(
        select(Subscriber).where(Subscriber.email_key == address.key).with_for_update()
    ).one_or_none()
    if subscriber is None or subscriber.status != "active":
        return False
    if is_suppressed(session, address.digest):
        return False
    recent = session.scalar(
        select(QueuedMail.id)
        .where(
            QueuedMail.subscriber_id == subscriber.id,
            QueuedMail.kind == "fresh-link",
            QueuedMail.created_at > now - resend_after,
        )
        .limit(1)
    )
    if recent is not None:
        return False
    queue_mail(session, "fresh-link", subscriber.id, now)
    return True
