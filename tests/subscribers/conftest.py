"""Helpers for the subscriber tests: rows made the way the application makes them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from newsletter.db import utcnow
from subscribers.addresses import parse_address
from subscribers.model import Subscriber


def add_subscriber(
    session: Session,
    email: str,
    *,
    status: str = "active",
    created_at: datetime | None = None,
    **fields: Any,
) -> Subscriber:
    """A subscriber row with a properly normalised address (flushed, so it has an id)."""
    address = parse_address(email)
    created = created_at or utcnow()
    row = Subscriber(
        email=address.email,
        email_key=address.key,
        email_hash=address.digest,
        status=status,
        created_at=created,
        confirmed_at=created if status == "active" else None,
        **fields,
    )
    session.add(row)
    session.flush()
    return row
