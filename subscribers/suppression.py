"""The suppression list: addresses never to be mailed again, kept only as SHA-256 hashes.

An address lands here when its owner asks to be erased and (through the tracking package)
when it hard-bounces or its owner reports a mail as spam. Signups, imports and sends all
check it; :func:`mailable` is the SQL condition a send uses.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from sqlalchemy import ColumnElement, and_, exists, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from newsletter.db import utcnow
from subscribers.addresses import Address, parse_address
from subscribers.bulk import one_of
from subscribers.model import Subscriber, Suppression, SuppressionReason
from subscribers.webhook_events import report_status

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
    status = _STATUS_FOR[reason]
    changed = session.execute(
        update(Subscriber)
        .where(Subscriber.email_key == address.key, Subscriber.status.in_(("pending", "active")))
        .values(status=status, unsubscribed_at=now)
        .returning(Subscriber.uid, Subscriber.email)
    ).all()
    if reason != "erased":
        report_status(session, [(uid, email) for uid, email in changed], status, now=now)
    return new


def suppress_many(session: Session, addresses: Iterable[tuple[Address, SuppressionReason]]) -> int:
    """:func:`suppress` for many addresses in a few statements (a webhook batch's bounces);
    an address given twice keeps its first reason, as two calls would. Returns how many
    were new. Safe against a concurrent suppression of the same address."""
    chosen: dict[str, tuple[Address, SuppressionReason]] = {}
    for address, reason in addresses:
        chosen.setdefault(address.digest, (address, reason))
    if not chosen:
        return 0
    now = utcnow()
    known = set(
        session.scalars(
            select(Suppression.email_hash).where(
                one_of(session.connection(), Suppression.email_hash, list(chosen))
            )
        )
    )
    new = [
        {"email_hash": digest, "reason": reason, "at": now}
        for digest, (_, reason) in chosen.items()
        if digest not in known
    ]
    if new:
        insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
        session.execute(insert(Suppression).on_conflict_do_nothing(), new)
    by_status: dict[str, list[str]] = defaultdict(list)
    for address, reason in chosen.values():
        by_status[_STATUS_FOR[reason]].append(address.key)
    connection = session.connection()
    for status, keys in by_status.items():  # by the unique key: email_hash has no index
        changed = session.execute(
            update(Subscriber)
            .where(
                one_of(connection, Subscriber.email_key, keys),
                Subscriber.status.in_(("pending", "active")),
            )
            .values(status=status, unsubscribed_at=now)
            .returning(Subscriber.uid, Subscriber.email)
            .execution_options(synchronize_session=False)
        ).all()
        report_status(session, [(uid, email) for uid, email in changed], status, now=now)
    return len(new)


def not_suppressed() -> ColumnElement[bool]:
    """SQL: the subscriber's address is not on the suppression list."""
    return ~exists(
        select(Suppression.email_hash).where(Suppression.email_hash == Subscriber.email_hash)
    )


def mailable_status() -> ColumnElement[bool]:
    """SQL: the subscriber's own side of :func:`mailable` (active, not lapsed under the sunset
    policy, has an address), for a query that joins the suppression list itself."""
    return and_(
        Subscriber.status == "active",
        Subscriber.lapsed_at.is_(None),
        Subscriber.email.is_not(None),
    )


def mailable() -> ColumnElement[bool]:
    """SQL: a subscriber a campaign may mail (:func:`mailable_status`, not suppressed)."""
    return and_(mailable_status(), not_suppressed())
