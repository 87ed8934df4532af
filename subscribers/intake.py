"""Subscribers handed over by another system (the newsroom's CMS through ``/api/v1``).

Each person arrives with the consent source the system recorded (which form, where).
Unless the caller may vouch for a confirmed opt-in, a person goes through the public
signup path (:func:`subscribers.signup.signup`): pending, with a confirmation mail queued,
the same throttle and suppression rules. A confirmed person is added active with an
``add`` consent record naming the source and the system (:func:`add_subscriber`).
Every person of a batch is checked before anything is stored; then all are stored in one
transaction.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.orm import Session

from newsletter.db import utcnow
from newsletter.errors import InvalidInput
from subscribers.addresses import Address, parse_address
from subscribers.directory import NewSubscriber, add_subscriber
from subscribers.fast_signup import insert_new_signup
from subscribers.fields import clean_name, clean_source, clean_topics
from subscribers.model import Subscriber
from subscribers.signup import Origin, SignupForm, signup
from subscribers.suppression import is_suppressed


class IntakeResult(StrEnum):
    QUEUED = "queued"  # pending, a confirmation mail is queued
    THROTTLED = "throttled"  # pending, a confirmation mail went moments ago
    ALREADY_ACTIVE = "already-active"  # nothing changed
    SUPPRESSED = "suppressed"  # erased, bounced or complained: never written or mailed
    ADDED = "added"  # active now (a confirmed opt-in the caller vouched for)
    EXISTS = "exists"  # confirmed asked for an address already known: nothing changed


@dataclass(frozen=True, slots=True)
class Arrival:
    """One person as another system sends them (unchecked)."""

    email: str
    source: str
    name: str | None = None
    topics: Sequence[str] = ()
    ip: str | None = None
    user_agent: str | None = None


@dataclass(frozen=True, slots=True)
class CheckedArrival:
    address: Address
    source: str
    name: str | None
    topics: list[str] = field(default_factory=list)
    ip: str | None = None
    user_agent: str | None = None


def check_arrival(
    arrival: Arrival, known_topics: Collection[str], *, ascii_local_part: bool
) -> CheckedArrival:
    """The person's fields under the signup rules; :class:`InvalidInput` lists every problem."""
    problems: list[InvalidInput] = []
    address = name = topics = source = None
    try:
        address = parse_address(arrival.email, ascii_local_part=ascii_local_part)
    except InvalidInput as exc:
        problems.append(exc)
    try:
        name = clean_name(arrival.name)
    except InvalidInput as exc:
        problems.append(exc)
    try:
        topics = clean_topics(arrival.topics, known_topics)
    except InvalidInput as exc:
        problems.append(exc)
    try:
        source = clean_source(arrival.source)
        if source is None:
            problems.append(InvalidInput("source", "is required: say where they opted in"))
    except InvalidInput as exc:
        problems.append(exc)
    if problems:
        raise InvalidInput.collect(problems)
    assert address is not None and source is not None
    return CheckedArrival(address, source, name, topics or [], arrival.ip, arrival.user_agent)


def _postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def take_in(
    session: Session,
    person: CheckedArrival,
    *,
    confirmed: bool,
    system: str,
    resend_after: timedelta,
    now: datetime | None = None,
) -> IntakeResult:
    """Store one checked person: double opt-in, or active when ``confirmed``. ``system``
    (e.g. the API key's name) is kept in the consent record with the source."""
    now = now or utcnow()
    origin = Origin(ip=person.ip, user_agent=person.user_agent, source=person.source)
    evidence = {"system": system, "source": person.source}
    if not confirmed:
        form = SignupForm(
            address=person.address,
            name=person.name,
            topics=person.topics,
            form={"email": person.address.email, "name": person.name, **evidence},
        )
        if _postgres(session) and insert_new_signup(session.connection(), form, origin, now):
            return IntakeResult.QUEUED  # a new address in one statement (the common case)
        return IntakeResult(signup(session, form, origin, resend_after=resend_after, now=now))
    if is_suppressed(session, person.address.digest):
        return IntakeResult.SUPPRESSED
    known = select(Subscriber.id).where(Subscriber.email_key == person.address.key)
    if session.scalar(known) is not None:
        return IntakeResult.EXISTS
    new = NewSubscriber(
        email=person.address.email,
        name=person.name,
        topics=person.topics,
        confirmed=True,
        source=person.source,
        ascii_local_part=False,  # checked already, under the provider's rule
    )
    add_subscriber(session, new, known_topics=person.topics, origin=origin, evidence=evidence)
    return IntakeResult.ADDED
