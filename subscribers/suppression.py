"""The suppression list: addresses never to be mailed again, kept only as SHA-256 hashes.

An address lands here when its owner asks to be erased and (through the tracking package)
when it hard-bounces or its owner reports a mail as spam. Signups, imports and sends all
check it; :func:`mailable` is the SQL condition a send uses.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, and_, exists, select, update
from sqlalchemy.orm import Session

from newsletter.db import utcnow
from subscribers.addresses import Address, parse_address
from subscribers.model import Subscriber, Suppression, SuppressionReason

# What a suppression does to a subscriber row that still has the address.
_STATUS_FOR: dict[str, str] = {
    "bounced": "bounced",
    "complained": "complained",
    "manual": "unsubscribed",
    "erased": "unsubscribed",
}


def is_suppressed(session: Session, digest: str) -> bool:
    """Whether the address with this :func:`~subscribers.addresses.email_digest` is suppressed."""
    return session.get(Suppression, digest) is not None


def suppress(session: Session, address: Address | str, reason: SuppressionReason) -> bool:
    """Suppress an address (and stop its subscriber, if any); False when it already was.

    The subscriber's status follows the reason (``bounced``, ``complained``; otherwise
    ``unsubscribed``), so that ``status == 'active'`` alone never selects a suppressed address.
    """
    if isinstance(address, str):
        address = parse_address(address)
    now = utcnow()
    new = session.get(Suppression, address.digest) is None
    if new:
        session.add(Suppression(email_hash=address.digest, reason=reason, at=now))
    session.execute(
        update(Subscriber)
        .where(Subscriber.email_key == address.key, Subscriber.status.in_(("pending", "active")))
        .values(status=_STATUS_FOR[reason], unsubscribed_at=now)
    )
    return new


def not_suppressed() -> ColumnElement[bool]:
    """SQL: the subscriber's address is not on the suppression list."""
    return ~exists(
        select(Suppression.email_hash).where(Suppression.email_hash == Subscriber.email_hash)
    )


def mailable() -> ColumnElement[bool]:
    """SQL: a subscriber a campaign may mail (active, has an address, not suppressed)."""
    return and_(Subscriber.status == "active", Subscriber.email.is_not(None), not_suppressed())
