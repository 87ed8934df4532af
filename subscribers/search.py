"""Finding subscribers for the editor: a substring of the address or name, a status and any
segment rules (topic, segment, engagement), one page at a time, newest first.

Pages are keyed by id (``WHERE id < :after ORDER BY id DESC``), never an offset: a page
walks the primary key backwards from where the last one ended and stops after one row
more than it shows, so page 1,000 costs what page 1 does. Nothing counts the whole result.
Outside, the place a page ends is a subscriber's public ``uid`` (:func:`page_cursor`,
:func:`cursor_position`): the integer id never leaves the database.

A filtered page looks through at most :data:`SCAN_WINDOW` ids: a substring cannot use an
index, so a rare one would otherwise read every subscriber for one page (seconds at a
million). When the window ends before the page is full, the page says how far it looked
and offers to look further from there. Erased subscribers (no address) are never listed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.orm import Session

from newsletter.errors import InvalidInput
from subscribers.directory import status_condition
from subscribers.fields import clean_text
from subscribers.model import Subscriber
from subscribers.segments import Rule, RuleContext

PAGE_SIZE = 50
SEARCH_MAX = 200
SCAN_WINDOW = 50_000  # ids one filtered page looks through at most


@dataclass(frozen=True, slots=True)
class SubscriberQuery:
    """What to look for; every part given must hold."""

    text: str | None = None  # a piece of the address or the name, any case
    status: str | None = None  # one of directory.LISTED_STATUSES (lapsed included)
    rules: tuple[Rule, ...] = ()  # topic, segment, engagement … as segment rules

    @property
    def filtered(self) -> bool:
        return bool(self.text or self.status or self.rules)


@dataclass(frozen=True, slots=True)
class SubscriberPage:
    rows: Sequence[Subscriber]
    next_after: int | None  # pass as ``after`` for the next page; None: this is the last
    looked_to: int | None = None  # the window ended at this id before the page was full


def search_text(value: str | None) -> str | None:
    """The search box's text, checked: one line, at most :data:`SEARCH_MAX` characters."""
    return clean_text(value, "q", SEARCH_MAX)


def _conditions(query: SubscriberQuery, ctx: RuleContext) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = [Subscriber.email.is_not(None)]
    text = search_text(query.text)
    if text:
        conditions.append(
            or_(
                Subscriber.email_key.icontains(text, autoescape=True),
                Subscriber.name.icontains(text, autoescape=True),
            )
        )
    if query.status:
        conditions.append(status_condition(query.status))
    conditions.extend(rule.compile(ctx) for rule in query.rules)
    return conditions


def search_subscribers(
    session: Session,
    query: SubscriberQuery,
    ctx: RuleContext,
    *,
    after: int | None = None,
    limit: int = PAGE_SIZE,
    window: int | None = None,
) -> SubscriberPage:
    """One page of the subscribers ``query`` matches, newest first, below the id ``after``;
    a filtered page looks through ``window`` ids at most (:data:`SCAN_WINDOW` by default)."""
    window = SCAN_WINDOW if window is None else window
    statement = select(Subscriber).where(*_conditions(query, ctx))
    top = after if after is not None else _top(session)
    statement = statement.where(Subscriber.id < top)
    floor = top - window if query.filtered else None
    if floor is not None:
        statement = statement.where(Subscriber.id >= floor)
    statement = statement.order_by(Subscriber.id.desc()).limit(limit + 1)
    rows = list(session.scalars(statement))
    if len(rows) > limit:
        return SubscriberPage(rows[:limit], rows[limit - 1].id)
    if floor is not None and floor > _bottom(session):
        return SubscriberPage(rows, floor, looked_to=floor)
    return SubscriberPage(rows, None)


def _top(session: Session) -> int:
    return int(session.scalar(select(func.max(Subscriber.id))) or 0) + 1


def _bottom(session: Session) -> int:
    return int(session.scalar(select(func.min(Subscriber.id))) or 0)


def page_cursor(session: Session, page: SubscriberPage) -> str | None:
    """Where the next page starts, as a public id: the uid of the last row shown, or, when
    the window ended first, of the lowest subscriber at or above where it ended (no row lies
    between, so the next page starts at the same place)."""
    if page.next_after is None:
        return None
    if page.looked_to is None and page.rows:
        return page.rows[-1].uid
    return session.scalar(
        select(Subscriber.uid)
        .where(Subscriber.id >= page.next_after)
        .order_by(Subscriber.id)
        .limit(1)
    )


def cursor_position(session: Session, cursor: str) -> int:
    """The id a :func:`page_cursor` stands for; a clear error for one that names nobody."""
    found = session.scalar(select(Subscriber.id).where(Subscriber.uid == cursor))
    if found is None:
        raise InvalidInput("after", "names no subscriber: start again from the first page")
    return int(found)
