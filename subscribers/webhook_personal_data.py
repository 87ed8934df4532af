"""Outbound webhook messages in the data-protection duties: the subscriber events that name a
reader (by uid or address) are exported, and erased so that no copy of the address is left.

Erasing deletes the messages still pending (a receiver must not learn the address of a
person erased before it was told), and scrubs the others (delivered, or given up on): the
payload's ``email`` becomes null, so the delivery log keeps what was sent when, to which
endpoint. A receiver's answer or error stored with *any* message that quotes the address
has it replaced by ``[erased]``. The
uid stays: it is the anonymised subscriber row's own id and names nobody once that row is
empty. The messages are found by a scan of the subscriber events' payloads (no index):
erasure is rare, and the table is pruned of nothing else.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import ColumnElement, delete, func, or_, select, update
from sqlalchemy.orm import Session

from newsletter.webhooks.model import MessageStatus, WebhookEndpoint, WebhookMessage
from subscribers.model import Subscriber
from subscribers.webhook_events import EVENT_FOR_STATUS

_SUBSCRIBER_EVENTS = sorted({event.value for event in EVENT_FOR_STATUS.values()})
ERASED = "[erased]"


def _about(subscriber: Subscriber) -> ColumnElement[bool]:
    """SQL: a subscriber event whose payload names this reader (by uid or by address)."""
    payload = WebhookMessage.payload
    names = [payload[("data", "subscriber_uid")].as_string() == subscriber.uid]
    if subscriber.email_key:
        email = func.lower(payload[("data", "email")].as_string())
        names.append(email == subscriber.email_key)
    return WebhookMessage.event_type.in_(_SUBSCRIBER_EVENTS) & or_(*names)


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def export_webhook_messages(session: Session, subscriber: Subscriber) -> list[dict[str, Any]]:
    rows = session.execute(
        select(WebhookMessage, WebhookEndpoint.url)
        .join(WebhookEndpoint, WebhookEndpoint.id == WebhookMessage.endpoint_id)
        .where(_about(subscriber))
        .order_by(WebhookMessage.created_at, WebhookMessage.id)
    ).all()
    return [
        {
            "event_type": m.event_type,
            "queued_at": _iso(m.created_at),
            "status": m.status,
            "delivered": m.status == MessageStatus.DELIVERED,
            "delivered_at": _iso(m.delivered_at),
            "sent_to": urlsplit(url).hostname,  # the receiver, not its path or query
            "payload": m.payload,
        }
        for m, url in rows
    ]


def _scrubbed_text(text: str | None, pattern: re.Pattern[str]) -> str | None:
    return None if text is None else pattern.sub(ERASED, text)


def _scrubbed_payload(payload: dict[str, Any], subscriber: Subscriber) -> dict[str, Any]:
    data = dict(payload.get("data") or {})
    if data.get("subscriber_uid") == subscriber.uid or (
        subscriber.email_key and str(data.get("email") or "").lower() == subscriber.email_key
    ):
        data["email"] = None
    return {**payload, "data": data}


def _echoes(subscriber: Subscriber) -> ColumnElement[bool]:
    """SQL: a message whose stored answer or error quotes the address (a receiver's echo,
    whichever reader the message was about)."""
    key = subscriber.email_key or ""
    return or_(
        func.lower(WebhookMessage.last_response).contains(key, autoescape=True),
        func.lower(WebhookMessage.last_error).contains(key, autoescape=True),
    )


def erase_webhook_messages(session: Session, subscriber: Subscriber) -> None:
    session.execute(
        delete(WebhookMessage)
        .where(_about(subscriber), WebhookMessage.status == MessageStatus.PENDING)
        .execution_options(synchronize_session=False)
    )
    found = _about(subscriber)
    if subscriber.email_key:
        found = or_(found, _echoes(subscriber))
    addresses = {a for a in (subscriber.email, subscriber.email_key) if a}
    pattern = re.compile("|".join(re.escape(a) for a in addresses) or "(?!)", re.IGNORECASE)
    kept = session.execute(
        select(
            WebhookMessage.id,
            WebhookMessage.payload,
            WebhookMessage.last_response,
            WebhookMessage.last_error,
        ).where(found)
    ).all()
    for message_id, payload, response, error in kept:
        session.execute(
            update(WebhookMessage)
            .where(WebhookMessage.id == message_id)
            .values(
                payload=_scrubbed_payload(payload, subscriber),
                last_response=_scrubbed_text(response, pattern),
                last_error=_scrubbed_text(error, pattern),
            )
            .execution_options(synchronize_session=False)
        )
