"""Double opt-in: a signup creates (or revives) a pending subscriber; the link confirms it.

Plain functions over a :class:`~sqlalchemy.orm.Session`: the web routes and the CLI call
them inside their own transaction. The outcome tells the caller what happened, but the
public answer must not: whether an address is new, pending, active or suppressed, a signup
page says the same thing (no enumeration). Only the mail differs: a new, pending or
unsubscribed address gets a confirmation mail (pending ones at most once per
``resend_after``); an active one gets nothing; a suppressed one is never written or mailed.
A reader lapsed under the sunset policy counts as not subscribed: they get a confirmation
mail too, and confirming revives them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, TypeVar

from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from newsletter.db import Database, utcnow
from newsletter.errors import NotFoundError
from subscribers.addresses import Address
from subscribers.confirmations import queue_confirmation
from subscribers.model import ConsentRecord, Subscriber
from subscribers.suppression import is_suppressed
from subscribers.webhook_events import report_status

USER_AGENT_MAX = 500
IP_MAX = 45

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Origin:
    """Where an action came from, as the consent record keeps it."""

    ip: str | None = None
    user_agent: str | None = None
    source: str | None = None


@dataclass(frozen=True, slots=True)
class SignupForm:
    """A validated signup: the address, optional name and topics, and what was submitted."""

    address: Address
    name: str | None = None
    topics: list[str] = field(default_factory=list)
    form: Mapping[str, Any] = field(default_factory=dict)
    time_zone: str | None = None  # IANA name the browser reported; None: the default zone


class SignupResult(StrEnum):
    QUEUED = "queued"  # a confirmation mail is queued (new, pending or unsubscribed address)
    THROTTLED = "throttled"  # pending, and a confirmation was queued moments ago
    ALREADY_ACTIVE = "already-active"  # nothing to do: no second mail
    SUPPRESSED = "suppressed"  # erased, bounced or complained: never mailed


class ConfirmResult(StrEnum):
    CONFIRMED = "confirmed"
    ALREADY_ACTIVE = "already-active"
    CLOSED = "closed"  # unsubscribed, bounced, complained or erased since the mail was sent


def consent_values(
    subscriber_id: int, kind: str, origin: Origin, form: Mapping[str, Any], now: datetime
) -> dict[str, Any]:
    """One ``consent_records`` row (for Core inserts, single or bulk)."""
    return {
        "subscriber_id": subscriber_id,
        "kind": kind,
        "at": now,
        "ip": (origin.ip or None) and origin.ip[:IP_MAX],
        "user_agent": (origin.user_agent or None) and origin.user_agent[:USER_AGENT_MAX],
        "source": origin.source,
        "form": dict(form),
    }


def record_consent(
    session: Session, subscriber_id: int, kind: str, origin: Origin, form: Mapping[str, Any]
) -> None:
    session.execute(
        insert(ConsentRecord).values(consent_values(subscriber_id, kind, origin, form, utcnow()))
    )


def signup(
    session: Session,
    form: SignupForm,
    origin: Origin,
    *,
    resend_after: timedelta,
    now: datetime | None = None,
) -> SignupResult:
    """Record a signup and queue its confirmation mail when one is due.

    Two requests for the same new address at the same moment make the second insert fail
    on the unique key: run it through :func:`retrying_unique` so the retry finds the row.
    """
    now = now or utcnow()
    address = form.address
    if is_suppressed(session, address.digest):
        return SignupResult.SUPPRESSED
    subscriber = session.scalars(
        select(Subscriber).where(Subscriber.email_key == address.key).with_for_update()
    ).one_or_none()
    if subscriber is None:
        subscriber_id = session.execute(
            insert(Subscriber)
            .values(
                email=address.email,
                email_key=address.key,
                email_hash=address.digest,
                name=form.name,
                status="pending",
                topics=form.topics,
                time_zone=form.time_zone,
                narratives="all",
                attributes={},
                source=origin.source,
                created_at=now,
                confirmation_sent_at=now,
            )
            .returning(Subscriber.id)
        ).scalar_one()
        session.execute(
            insert(ConsentRecord).values(
                consent_values(subscriber_id, "signup", origin, form.form, now)
            )
        )
        queue_confirmation(session, subscriber_id, now)
        return SignupResult.QUEUED
    if subscriber.status == "active" and not is_lapsed(subscriber):
        return SignupResult.ALREADY_ACTIVE
    if subscriber.status in ("bounced", "complained"):
        return SignupResult.SUPPRESSED
    # pending, unsubscribed or lapsed, and asking again: the newest signup's choices count.
    # A lapsed reader stays active-but-lapsed until the confirmation revives them.
    if not is_lapsed(subscriber):
        subscriber.status = "pending"
    subscriber.name = form.name if form.name is not None else subscriber.name
    subscriber.topics = list(form.topics) or list(subscriber.topics)
    subscriber.time_zone = form.time_zone or subscriber.time_zone
    session.add(
        ConsentRecord(
            **consent_values(subscriber.id, "signup", origin, form.form, now),
        )
    )
    last = subscriber.confirmation_sent_at
    if last is not None and now - last < resend_after:
        return SignupResult.THROTTLED
    subscriber.confirmation_sent_at = now
    session.flush()
    queue_confirmation(session, subscriber.id, now)
    return SignupResult.QUEUED


def confirm(
    session: Session, uid: str, origin: Origin, *, now: datetime | None = None
) -> ConfirmResult:
    """Activate the pending subscriber ``uid`` (from a verified confirmation token)."""
    now = now or utcnow()
    subscriber = find_by_uid(session, uid, for_update=True)
    if is_lapsed(subscriber):
        revive(session, subscriber, origin, via="signup", now=now)
        return ConfirmResult.CONFIRMED
    if subscriber.status == "active":
        return ConfirmResult.ALREADY_ACTIVE
    if subscriber.status != "pending":
        return ConfirmResult.CLOSED
    subscriber.status = "active"
    subscriber.confirmed_at = now
    subscriber.welcome_from = now  # a double opt-in: the welcome series starts now
    subscriber.unsubscribed_at = None
    session.add(ConsentRecord(**consent_values(subscriber.id, "confirm", origin, {}, now)))
    report_status(session, [(subscriber.uid, subscriber.email)], "active", now=now)
    return ConfirmResult.CONFIRMED


def is_lapsed(subscriber: Subscriber) -> bool:
    """Lapsed under the sunset policy: active, but not mailed until revived."""
    return subscriber.status == "active" and subscriber.lapsed_at is not None


def revival_form(via: str, lapsed_at: datetime) -> dict[str, str]:
    """The ``form`` of the consent record a revival writes: how, and when the lapse began
    (so that :func:`subscribers.lapse.lapsed_counts` can tell who was lapsed at a past date)."""
    return {"revived": via, "lapsed_at": stored_time(lapsed_at)}


def stored_time(moment: datetime) -> str:
    """A time as a JSON string that sorts as the time does: UTC, always with microseconds."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def revive(
    session: Session,
    subscriber: Subscriber,
    origin: Origin,
    *,
    via: str,
    now: datetime | None = None,
) -> bool:
    """End a sunset question or lapse (:mod:`subscribers.lapse`); True, with a ``confirm``
    consent record saying how, when a lapse ended."""
    now = now or utcnow()
    lapsed = is_lapsed(subscriber)
    since = subscriber.lapsed_at
    subscriber.lapsed_at = None
    subscriber.reengage_sent_at = None
    subscriber.kept_at = now
    if lapsed and since is not None:
        form = revival_form(via, since)
        values = consent_values(subscriber.id, "confirm", origin, form, now)
        session.add(ConsentRecord(**values))
    return lapsed


def find_by_uid(session: Session, uid: str, *, for_update: bool = False) -> Subscriber:
    """The subscriber a signed link names; :class:`NotFoundError` when there is none (or erased)."""
    statement = select(Subscriber).where(Subscriber.uid == uid, Subscriber.email.is_not(None))
    if for_update:
        statement = statement.with_for_update()
    subscriber = session.scalars(statement).one_or_none()
    if subscriber is None:
        raise NotFoundError("this link names no subscriber (the subscription may have been erased)")
    return subscriber


def retrying_unique(database: Database, work: Callable[[Session], T], *, tries: int = 3) -> T:
    """Run ``work`` in a transaction, again when a concurrent insert won a unique-key race.

    The losing transaction is rolled back whole and re-run; the second run sees the
    winner's row and takes the "already known" path.
    """
    for attempt in range(1, tries + 1):
        try:
            with database.transaction() as session:
                return work(session)
        except IntegrityError:
            if attempt == tries:
                raise
            log.info(
                "unique-key race lost (try %s of %s): retrying the transaction", attempt, tries
            )
    raise AssertionError("unreachable")
