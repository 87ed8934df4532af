"""Lapsed readers (the sunset policy): how a reader answers "keep me subscribed", and how a
lapsed reader comes back.

A reader who was asked and did not answer in the grace period *lapses*: ``lapsed_at`` is
set, the status stays ``active``, and :func:`subscribers.suppression.mailable` leaves them
out of every send. Nothing is deleted. Any sign that the person wants the newsletter ends
an open question or a lapse: the keep button, a human click in an issue, or confirming a
new signup. Each writes ``kept_at`` (the next question needs N unengaged issues sent after
it) and, when it ends a lapse, a ``confirm`` consent record saying how.

Finding whom to ask and whom to lapse needs the campaigns' deliveries and events, so it
lives in :mod:`campaigns.sunset`; this module only changes subscriber rows (one reader's
revival is :func:`subscribers.signup.revive`, which confirming a signup uses too).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import BigInteger, Select, func, or_, select, update
from sqlalchemy.orm import Session

from subscribers.bulk import one_of
from subscribers.model import ConsentRecord, Subscriber
from subscribers.signup import (
    Origin,
    consent_values,
    find_by_uid,
    revival_form,
    revive,
    stored_time,
)


class KeepResult(StrEnum):
    KEPT = "kept"  # asked (or lapsed) and now kept: back on the list
    ALREADY = "already"  # nothing was pending: they are on the list
    CLOSED = "closed"  # unsubscribed, bounced or complained: the button cannot undo that


def keep(session: Session, uid: str, origin: Origin, *, now: datetime | None = None) -> KeepResult:
    """The "keep me subscribed" button: end the question, or the lapse, of ``uid``."""
    subscriber = find_by_uid(session, uid, for_update=True)
    if subscriber.status != "active":
        return KeepResult.CLOSED
    if subscriber.reengage_sent_at is None and subscriber.lapsed_at is None:
        return KeepResult.ALREADY
    revive(session, subscriber, origin, via="keep button", now=now)
    return KeepResult.KEPT


def revive_many(
    session: Session, subscriber_ids: Collection[int], origin: Origin, *, via: str, now: datetime
) -> int:
    """:func:`revive` for the asked or lapsed among ``subscriber_ids`` (a batch of clicks);
    returns how many lapses ended. One look-up by key when none of them was asked or lapsed."""
    if not subscriber_ids:
        return 0
    waiting = or_(Subscriber.reengage_sent_at.is_not(None), Subscriber.lapsed_at.is_not(None))
    rows = session.execute(
        select(Subscriber.id, Subscriber.lapsed_at)
        .where(
            one_of(session.connection(), Subscriber.id, sorted(subscriber_ids), BigInteger()),
            Subscriber.status == "active",
            waiting,
        )
        .with_for_update()
    ).all()
    if not rows:
        return 0
    session.execute(
        update(Subscriber)
        .where(Subscriber.id.in_([row.id for row in rows]))
        .values(lapsed_at=None, reengage_sent_at=None, kept_at=now)
        .execution_options(synchronize_session=False)
    )
    lapsed = [(row.id, row.lapsed_at) for row in rows if row.lapsed_at is not None]
    for subscriber_id, since in lapsed:
        form = revival_form(via, since)
        session.add(ConsentRecord(**consent_values(subscriber_id, "confirm", origin, form, now)))
    return len(lapsed)


def lapsed_counts(session: Session, moments: Sequence[datetime]) -> list[int]:
    """How many readers were lapsed at each of ``moments`` (one count per moment).

    A reader was lapsed at *t* when their lapse began at or before *t* and had not ended by
    then. A lapse still going is the reader's ``lapsed_at`` (counted while they are active,
    or until they unsubscribed or were erased, if that came after *t*); a lapse that ended
    is the revival's consent record (its time, and the ``lapsed_at`` it carries). Revivals
    recorded before the records carried ``lapsed_at`` cannot be placed and are not counted,
    nor are lapsed readers later suppressed by a bounce or complaint (no time is kept).
    Each count is two index range scans (``ix_subscribers_lapsed_at``,
    ``ix_consent_records_kind_at``), whatever the size of the list.
    """
    return [_lapsed_at(session, moment) for moment in moments]


def _lapsed_at(session: Session, moment: datetime) -> int:
    ongoing, ended = lapse_counts_at(moment)
    return int(session.scalar(ongoing) or 0) + int(session.scalar(ended) or 0)


def lapse_counts_at(moment: datetime) -> tuple[Select[Any], Select[Any]]:
    """The two counts whose sum is the readers lapsed at ``moment``: lapses still going
    that began by then, and lapses that began by then and ended after it."""
    left = func.coalesce(Subscriber.unsubscribed_at, Subscriber.erased_at)
    ongoing = select(func.count()).where(
        Subscriber.lapsed_at <= moment,
        or_(Subscriber.status == "active", left > moment),
    )
    began = ConsentRecord.form["lapsed_at"].as_string()
    ended = select(func.count()).where(
        ConsentRecord.kind == "confirm",
        ConsentRecord.at > moment,
        began.is_not(None),
        began <= stored_time(moment),
    )
    return ongoing, ended
