"""Queue an event for every enabled endpoint that wants it, in the caller's transaction.

Call :func:`queue_event` where the change happens, with the session (or connection) that
writes it: the message rows commit or roll back with the change, so a receiver never hears
of a change that did not happen, nor misses one that did. Without endpoints it costs one
small SELECT.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, select
from sqlalchemy.orm import Session

from newsletter.db import utcnow
from newsletter.webhooks.model import EventType, MessageStatus, WebhookEndpoint, WebhookMessage

Executor = Session | Connection


def new_msg_id() -> str:
    """A Standard Webhooks message id: the same on every attempt, so receivers can de-duplicate."""
    return "msg_" + secrets.token_urlsafe(18)


def envelope(event_type: str, data: Mapping[str, Any], now: datetime) -> dict[str, Any]:
    """The body every message carries (the Standard Webhooks shape: type, timestamp, data)."""
    return {"type": event_type, "timestamp": now.isoformat(), "data": dict(data)}


def queue_event(
    executor: Executor,
    event_type: EventType,
    data: Mapping[str, Any],
    *,
    now: datetime | None = None,
) -> int:
    """Queue one event; returns how many endpoints will receive it."""
    return queue_events(executor, [(event_type, data)], now=now)


def queue_events(
    executor: Executor,
    events: Iterable[tuple[EventType, Mapping[str, Any]]],
    *,
    now: datetime | None = None,
) -> int:
    """Queue several events with one look at the endpoints; returns the rows written."""
    pending = list(events)
    if not pending:
        return 0
    endpoints = executor.execute(
        select(WebhookEndpoint.id, WebhookEndpoint.events).where(WebhookEndpoint.enabled)
    ).all()
    if not endpoints:
        return 0
    now = now or utcnow()
    rows = [
        message_row(endpoint_id, event_type, envelope(event_type, data, now), now)
        for event_type, data in pending
        for endpoint_id, wanted in endpoints
        if event_type.value in wanted
    ]
    if rows:
        executor.execute(insert(WebhookMessage), rows)
    return len(rows)


def message_row(
    endpoint_id: int, event_type: str, payload: dict[str, Any], now: datetime
) -> dict[str, Any]:
    """The values of one new message, due at once."""
    return {
        "endpoint_id": endpoint_id,
        "event_type": event_type,
        "payload": payload,
        "msg_id": new_msg_id(),
        "status": MessageStatus.PENDING.value,
        "attempts": 0,
        "created_at": now,
        "next_attempt_at": now,
    }
