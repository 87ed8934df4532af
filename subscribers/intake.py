"""Subscribers handed over by another system (the newsroom's CMS through ``/api/v1``).

Each person arrives with the consent source the system recorded (which form, where).
Unless the caller may vouch for a confirmed opt-in, a person goes through the public
signup path (:func:`subscribers.signup.signup`): pending, with a confirmation mail queued,
the same throttle and suppression rules. A confirmed person is added active with an
``add`` consent record naming the source and the system, a batch at a time through the
CSV import's write path (:mod:`subscribers.batch_insert`). Every person of a batch is
checked before anything is stored; then all are stored in one transaction.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy.orm import Session

from newsletter.db import utcnow
from newsletter.errors import InvalidInput
from newsletter.zones import clean_zone
from subscribers.addresses import Address, parse_address
from subscribers.batch_insert import insert_with_consents, known_and_suppressed
from subscribers.fast_signup import insert_new_signup
from subscribers.fields import clean_name, clean_source, clean_topics
from subscribers.model import new_uid
from subscribers.signup import Origin, SignupForm, consent_values, signup


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
    time_zone: str | None = None  # an IANA name; None: the default zone


@dataclass(frozen=True, slots=True)
class CheckedArrival:
    address: Address
    source: str
    name: str | None
    topics: list[str] = field(default_factory=list)
    ip: str | None = None
    user_agent: str | None = None
    time_zone: str | None = None


def check_arrival(
    arrival: Arrival, known_topics: Collection[str], *, ascii_local_part: bool
) -> CheckedArrival:
    """The person's fields under the signup rules; :class:`InvalidInput` lists every problem."""
    problems: list[InvalidInput] = []
    address = name = topics = source = zone = None
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
    try:
        zone = clean_zone(arrival.time_zone)  # the CSV import's and preferences page's rule
    except InvalidInput as exc:
        problems.append(exc)
    if problems:
        raise InvalidInput.collect(problems)
    assert address is not None and source is not None
    return CheckedArrival(
        address, source, name, topics or [], arrival.ip, arrival.user_agent, time_zone=zone
    )


def _postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def take_in(
    session: Session,
    people: Sequence[CheckedArrival],
    *,
    confirmed: bool,
    system: str,
    resend_after: timedelta,
    welcome: bool = False,
    now: datetime | None = None,
) -> list[IntakeResult]:
    """Store checked people, each's result in order: double opt-in, or active when
    ``confirmed``. ``system`` (e.g. the API key's name) is kept in the consent record with
    the source. Double opt-in readers get the welcome series when they confirm; confirmed
    ones only with ``welcome`` (without ``confirmed`` it changes nothing)."""
    now = now or utcnow()
    if confirmed:
        return _add_confirmed(session, people, system=system, welcome=welcome, now=now)
    return [
        _sign_up(session, person, system=system, resend_after=resend_after, now=now)
        for person in people
    ]


def _sign_up(
    session: Session,
    person: CheckedArrival,
    *,
    system: str,
    resend_after: timedelta,
    now: datetime,
) -> IntakeResult:
    """One person through the public signup path (pending, a confirmation mail queued)."""
    origin = _origin(person)
    form = SignupForm(
        address=person.address,
        name=person.name,
        topics=person.topics,
        form={"email": person.address.email, "name": person.name, **_evidence(person, system)},
        time_zone=person.time_zone,
    )
    if _postgres(session) and insert_new_signup(session.connection(), form, origin, now):
        return IntakeResult.QUEUED  # a new address in one statement (the common case)
    return IntakeResult(signup(session, form, origin, resend_after=resend_after, now=now))


def _add_confirmed(
    session: Session,
    people: Sequence[CheckedArrival],
    *,
    system: str,
    welcome: bool,
    now: datetime,
) -> list[IntakeResult]:
    """People who opted in elsewhere, added active with an ``add`` consent record, as a
    batch (the CSV import's write path: two look-ups, one insert per table). A suppressed
    address is not written; a known one, or one already earlier in the batch, is left
    as it is. Like an import, this reports no ``subscriber.confirmed`` webhook event."""
    rows = [_active_row(person, now, welcome=welcome) for person in people]
    known, suppressed = known_and_suppressed(session.connection(), rows)
    results: list[IntakeResult] = []
    new: list[int] = []  # indexes in people
    for index, row in enumerate(rows):
        if row["email_hash"] in suppressed:
            results.append(IntakeResult.SUPPRESSED)
        elif row["email_key"] in known:
            results.append(IntakeResult.EXISTS)
        else:
            known.add(row["email_key"])
            new.append(index)
            results.append(IntakeResult.ADDED)

    def consent_of(index: int, subscriber_id: int) -> dict[str, Any]:
        person = people[new[index]]
        form = {
            "email": person.address.email,
            "name": person.name,
            "topics": person.topics,
            **_evidence(person, system),
        }
        return consent_values(subscriber_id, "add", _origin(person), form, now)

    written = insert_with_consents(session.connection(), [rows[i] for i in new], consent_of)
    for index in new:
        if rows[index]["email_key"] not in written:  # added by another request meanwhile
            results[index] = IntakeResult.EXISTS
    return results


def _active_row(person: CheckedArrival, now: datetime, *, welcome: bool) -> dict[str, Any]:
    """The ``subscribers`` row of a confirmed person (:data:`SUBSCRIBER_COLUMNS`); their
    welcome series starts now only if ``welcome``."""
    return {
        "uid": new_uid(),
        "email": person.address.email,
        "email_key": person.address.key,
        "email_hash": person.address.digest,
        "name": person.name,
        "status": "active",
        "topics": person.topics,
        "narratives": "all",
        "attributes": {},
        "source": person.source,
        "created_at": now,
        "confirmed_at": now,
        "welcome_from": now if welcome else None,
        "time_zone": person.time_zone,
    }


def _origin(person: CheckedArrival) -> Origin:
    return Origin(ip=person.ip, user_agent=person.user_agent, source=person.source)


def _evidence(person: CheckedArrival, system: str) -> dict[str, str]:
    return {"system": system, "source": person.source}
