"""Register, list, enable, disable and remove webhook endpoints; read the delivery log;
queue a test event; try a message again now.

An endpoint's secret (``whsec_`` + base64 of 32 random bytes, as Standard Webhooks has it)
is returned once, by :func:`add_endpoint`, for the receiver to verify signatures with. It
is kept in the database in clear because every message is signed with it (an HMAC key,
unlike an API key, cannot be stored as a hash) and it is never shown again.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, insert, select, update
from sqlalchemy.orm import Session

from newsletter.db import utcnow
from newsletter.errors import InvalidInput, NotFoundError
from newsletter.suggest import did_you_mean
from newsletter.webhooks.addresses import AddressRefused, check_endpoint_url
from newsletter.webhooks.model import (
    EVENT_TYPES,
    TEST_EVENT,
    MessageStatus,
    WebhookEndpoint,
    WebhookMessage,
)
from newsletter.webhooks.queue import envelope, message_row

LOG_MAX = 500
MAX_ROW_ID = 2**31 - 1  # ids are 32-bit integers on PostgreSQL


@dataclass(frozen=True)
class NewEndpoint:
    row: WebhookEndpoint
    secret: str  # shown once


def new_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def parse_events(names: Iterable[str], field: str = "events") -> list[str]:
    """Event names, comma-separated or repeated, each one we send; at least one."""
    chosen: list[str] = []
    for part in (p.strip() for name in names for p in name.split(",")):
        if not part:
            continue
        if part not in EVENT_TYPES:
            hint = did_you_mean(part, EVENT_TYPES) or f" (one of {', '.join(EVENT_TYPES)})"
            raise InvalidInput(field, f"unknown event {part!r}{hint}")
        if part not in chosen:
            chosen.append(part)
    if not chosen:
        raise InvalidInput(field, f"choose at least one of {', '.join(EVENT_TYPES)}")
    return chosen


def add_endpoint(
    session: Session, url: str, events: Sequence[str], *, created_by: str, allow_private: bool
) -> NewEndpoint:
    """Register ``url`` for ``events`` (checked: see :mod:`newsletter.webhooks.addresses`)."""
    chosen = parse_events(events)
    try:
        checked = check_endpoint_url(url, allow_private=allow_private)
    except AddressRefused as exc:
        raise InvalidInput("url", str(exc)) from exc
    secret = new_secret()
    row = WebhookEndpoint(url=checked, events=chosen, secret=secret, created_by=created_by)
    session.add(row)
    session.flush()
    return NewEndpoint(row, secret)


def list_endpoints(session: Session) -> list[WebhookEndpoint]:
    return list(session.scalars(select(WebhookEndpoint).order_by(WebhookEndpoint.id)))


def get_endpoint(session: Session, endpoint_id: int) -> WebhookEndpoint:
    endpoint = session.get(WebhookEndpoint, endpoint_id) if 0 < endpoint_id <= MAX_ROW_ID else None
    if endpoint is None:
        raise NotFoundError(f"no webhook endpoint {endpoint_id}")
    return endpoint


def set_enabled(session: Session, endpoint_id: int, enabled: bool) -> WebhookEndpoint:
    """Enable or disable; a disabled endpoint gets no new messages and its queued ones wait."""
    endpoint = get_endpoint(session, endpoint_id)
    endpoint.enabled = enabled
    return endpoint


def remove_endpoint(session: Session, endpoint_id: int) -> str:
    """Delete the endpoint and its messages; returns its URL."""
    url = get_endpoint(session, endpoint_id).url
    session.execute(delete(WebhookMessage).where(WebhookMessage.endpoint_id == endpoint_id))
    session.execute(delete(WebhookEndpoint).where(WebhookEndpoint.id == endpoint_id))
    return url


def queue_test(session: Session, endpoint_id: int, *, now: datetime | None = None) -> int:
    """Queue a ``webhook.test`` message for this endpoint alone; returns the message's id."""
    endpoint = get_endpoint(session, endpoint_id)
    now = now or utcnow()
    data = {"endpoint_id": endpoint.id, "note": "a test sent from the newsletter admin"}
    row = message_row(endpoint.id, TEST_EVENT, envelope(TEST_EVENT, data, now), now)
    return int(
        session.execute(insert(WebhookMessage).returning(WebhookMessage.id), [row]).scalar_one()
    )


def retry_now(session: Session, message_id: int, *, now: datetime | None = None) -> WebhookMessage:
    """Make a pending or failed message due now (a failed one gets one more attempt)."""
    message = session.get(WebhookMessage, message_id) if 0 < message_id <= MAX_ROW_ID else None
    if message is None:
        raise NotFoundError(f"no webhook message {message_id}")
    if message.status == MessageStatus.DELIVERED:
        raise InvalidInput("message", f"message {message_id} was delivered already")
    session.execute(
        update(WebhookMessage)
        .where(WebhookMessage.id == message_id)
        .values(status=MessageStatus.PENDING, next_attempt_at=now or utcnow())
    )
    session.refresh(message)
    return message


def prune_messages(session: Session, *, older_than: datetime) -> int:
    """Delete delivered and failed messages queued before ``older_than``; returns how many.
    Pending ones stay whatever their age (they are still being tried)."""
    result = session.execute(
        delete(WebhookMessage)
        .where(
            WebhookMessage.status.in_((MessageStatus.DELIVERED, MessageStatus.FAILED)),
            WebhookMessage.created_at < older_than,
        )
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


@dataclass(frozen=True)
class LogRow:
    """One line of the delivery log."""

    id: int
    endpoint_id: int
    url: str
    event_type: str
    msg_id: str
    status: str
    attempts: int
    created_at: datetime
    next_attempt_at: datetime
    last_status_code: int | None
    last_response: str | None
    last_error: str | None
    delivered_at: datetime | None


def delivery_log(
    session: Session, *, limit: int = 50, endpoint_id: int | None = None
) -> list[LogRow]:
    """The newest ``limit`` messages (of one endpoint, if given), newest first."""
    query = (
        select(WebhookMessage, WebhookEndpoint.url)
        .join(WebhookEndpoint, WebhookEndpoint.id == WebhookMessage.endpoint_id)
        .order_by(WebhookMessage.id.desc())
        .limit(max(1, min(limit, LOG_MAX)))
    )
    if endpoint_id is not None:
        query = query.where(WebhookMessage.endpoint_id == endpoint_id)
    return [
        LogRow(
            m.id,
            m.endpoint_id,
            url,
            m.event_type,
            m.msg_id,
            m.status,
            m.attempts,
            m.created_at,
            m.next_attempt_at,
            m.last_status_code,
            m.last_response,
            m.last_error,
            m.delivered_at,
        )
        for m, url in session.execute(query).all()
    ]
