"""Looking subscribers up and adding them by hand (the operator's side, used by the CLI).

Adding by hand follows the same rules as a signup: a suppressed address is refused, and
an address added without ``confirmed`` is pending with a confirmation mail queued, so an
operator cannot opt someone in by typing their address.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field

from sqlalchemy import ColumnElement, and_, case, func, select
from sqlalchemy.orm import Session

from newsletter.db import utcnow
from newsletter.errors import ConflictError, InvalidInput, NotFoundError
from newsletter.zones import clean_zone
from subscribers.addresses import parse_address
from subscribers.confirmations import queue_confirmation
from subscribers.fields import (
    clean_attributes,
    clean_name,
    clean_narratives,
    clean_source,
    clean_topics,
)
from subscribers.model import STATUSES, ConsentRecord, Subscriber
from subscribers.signup import Origin, consent_values, is_lapsed
from subscribers.suppression import is_suppressed


def find_by_email(session: Session, email: str) -> Subscriber:
    """The subscriber with this address (however it is capitalised); NotFoundError if none."""
    address = parse_address(email)
    subscriber = session.scalar(select(Subscriber).where(Subscriber.email_key == address.key))
    if subscriber is None:
        raise NotFoundError(f"no subscriber with the address {address.email}")
    return subscriber


@dataclass(frozen=True, slots=True)
class NewSubscriber:
    email: str
    name: str | None = None
    topics: list[str] = field(default_factory=list)
    confirmed: bool = False
    welcome: bool = False  # with confirmed: the welcome series starts now (else: never)
    source: str | None = "cli"
    ascii_local_part: bool = True  # the provider cannot deliver to zoë@… (parse_address)
    narratives: str | None = None  # all (the default), facts-only or no-forecast
    attributes: Mapping[str, str] = field(default_factory=dict)  # custom, as CSV's attr.NAME
    time_zone: str | None = None  # IANA name; None: the settings' default at send time


def consent_history(session: Session, subscriber: Subscriber) -> list[ConsentRecord]:
    """The subscriber's consent records, oldest first."""
    return list(
        session.scalars(
            select(ConsentRecord)
            .where(ConsentRecord.subscriber_id == subscriber.id)
            .order_by(ConsentRecord.at, ConsentRecord.id)
        )
    )


def add_subscriber(
    session: Session,
    new: NewSubscriber,
    *,
    known_topics: Collection[str],
    origin: Origin,
    evidence: Mapping[str, str] | None = None,
) -> Subscriber:
    """Add one subscriber: active if ``confirmed``, else pending with a confirmation queued.

    A pending one gets the welcome series when they confirm; a confirmed one only if
    ``welcome`` (they confirmed elsewhere: a newsroom's existing readers are not welcomed).

    Every field goes through the rules of :mod:`subscribers.fields`, as a CSV row does;
    ``evidence`` is added to the consent record's form (who vouched for the opt-in)."""
    address = parse_address(new.email, ascii_local_part=new.ascii_local_part)
    if is_suppressed(session, address.digest):
        raise ConflictError(
            f"{address.email} is on the suppression list (erased, bounced or complained)"
        )
    if session.scalar(select(Subscriber.id).where(Subscriber.email_key == address.key)):
        raise ConflictError(f"{address.email} is already a subscriber")
    now = utcnow()
    subscriber = Subscriber(
        email=address.email,
        email_key=address.key,
        email_hash=address.digest,
        name=clean_name(new.name),
        topics=clean_topics(new.topics, known_topics),
        narratives=clean_narratives(new.narratives),
        attributes=clean_attributes(new.attributes),
        status="active" if new.confirmed else "pending",
        source=clean_source(new.source),
        time_zone=clean_zone(new.time_zone),
        created_at=now,
        confirmed_at=now if new.confirmed else None,
        welcome_from=now if new.confirmed and new.welcome else None,
        confirmation_sent_at=None if new.confirmed else now,
    )
    session.add(subscriber)
    session.flush()
    form = {
        "email": address.email,
        "name": subscriber.name,
        "topics": subscriber.topics,
        **(evidence or {}),
    }
    session.add(ConsentRecord(**consent_values(subscriber.id, "add", origin, form, now)))
    if not new.confirmed:
        queue_confirmation(session, subscriber.id, now)
    return subscriber


LAPSED = "lapsed"  # shown as a status: active, but not mailed (the sunset policy)
LISTED_STATUSES = (*STATUSES, LAPSED)


def shown_status(subscriber: Subscriber) -> str:
    """The status a person is shown: ``lapsed`` for a lapsed active reader."""
    return LAPSED if is_lapsed(subscriber) else subscriber.status


def status_condition(status: str) -> ColumnElement[bool]:
    """SQL: the subscriber shows this status (``active`` leaves lapsed readers out)."""
    if status not in LISTED_STATUSES:
        raise InvalidInput("status", f"must be one of {', '.join(LISTED_STATUSES)}")
    if status == LAPSED:
        return and_(Subscriber.status == "active", Subscriber.lapsed_at.is_not(None))
    if status == "active":
        return and_(Subscriber.status == "active", Subscriber.lapsed_at.is_(None))
    return Subscriber.status == status


def list_subscribers(
    session: Session, *, status: str | None = None, limit: int | None = None
) -> Sequence[Subscriber]:
    """Subscribers with an address (erased ones have none), newest first; ``status``
    ``active`` excludes lapsed readers, ``lapsed`` lists only them."""
    statement = select(Subscriber).where(Subscriber.email.is_not(None))
    if status is not None:
        statement = statement.where(status_condition(status))
    statement = statement.order_by(Subscriber.created_at.desc(), Subscriber.id.desc()).limit(limit)
    return session.scalars(statement).all()


def status_counts(session: Session) -> dict[str, int]:
    """How many subscribers (with an address) have each status; ``lapsed`` readers are
    counted apart from ``active`` ones (the sum is still everyone)."""
    lapsed = Subscriber.lapsed_at.is_not(None) & (Subscriber.status == "active")
    shown = case((lapsed, LAPSED), else_=Subscriber.status)
    rows = session.execute(
        select(shown, func.count()).where(Subscriber.email.is_not(None)).group_by(shown)
    ).all()
    counts: dict[str, int] = dict.fromkeys(LISTED_STATUSES, 0)
    counts.update({status: count for status, count in rows})
    return counts


def lapsed_count(session: Session) -> int:
    """How many readers are lapsed (the sunset policy): on the list, not mailed."""
    lapsed = (Subscriber.status == "active") & Subscriber.lapsed_at.is_not(None)
    return int(
        session.scalar(select(func.count()).where(lapsed, Subscriber.email.is_not(None))) or 0
    )
