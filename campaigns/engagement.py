"""Engagement segment rules: subscribers who opened, or clicked, in the last N days.

Registered with :func:`subscribers.segments.register_rule` by
:func:`campaigns.wiring.wire_extensions` (the web app and the CLI call it), after which
segments may use them::

    {"type": "opened", "within_days": 30}
    {"type": "not", "rule": {"type": "clicked", "within_days": 90}}

Only human events count (machine opens by Apple Mail Privacy Protection would make every
Apple Mail user "engaged"), and clicks on our own links (unsubscribe!) do not. A click
counts as an open too: the reader saw the mail even if their client blocked the pixel.

The rules read :class:`~campaigns.events.SubscriberEngagement` (one row per reader who ever
engaged, kept by :func:`note_engagement` in the transaction that records the events), not
the events themselves: a count at a million readers and ten million events would otherwise
look through every event, and pruned events would make readers look unengaged.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any, Literal, cast

from pydantic import Field
from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Connection,
    Table,
    and_,
    case,
    exists,
    or_,
    select,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import InstrumentedAttribute

from campaigns.events import (
    OWN_LINK_SECTIONS,
    Event,
    EventRecord,
    SubscriberEngagement,
    reader_click,
)
from subscribers.bulk import one_of, rows_parameter, rows_source
from subscribers.model import Subscriber
from subscribers.segments import OuterJoin, Rule, RuleContext

ENGAGEMENT = cast(Table, SubscriberEngagement.__table__)


def human_engagement() -> ColumnElement[bool]:
    """SQL: an event that shows a person read a newsletter: a human open or a reader's click."""
    return or_(and_(Event.type == "opened", Event.machine.is_(False)), reader_click())


def _is_open(record: EventRecord) -> bool:
    return record.type == "opened" and not record.machine


def _is_reader_click(record: EventRecord) -> bool:
    """In Python, what :func:`~campaigns.events.reader_click` says in SQL."""
    return (
        record.type == "clicked"
        and not record.machine
        and (record.section is None or record.section not in OWN_LINK_SECTIONS)
    )


def note_engagement(
    connection: Connection,
    records: Sequence[EventRecord],
    *,
    erased: Collection[int] | None = None,
) -> int:
    """Move each reader's last open and click forward to the newest of ``records`` (newly
    recorded events only; :mod:`campaigns.ingest` calls this). Returns the readers touched.

    One ``INSERT … ON CONFLICT DO UPDATE`` for the batch, rows in id order so that
    concurrent batches lock them in the same order; a time only ever moves forward, so an
    old event arriving late changes nothing. Erased readers get no row: ``erased`` names
    those among the records' subscribers when the caller knows them already (ingest reads
    it with the deliveries), else they are looked up."""
    latest: dict[int, list[datetime | None]] = {}
    for record in records:
        clicked = _is_reader_click(record)
        if record.subscriber_id is None or not (clicked or _is_open(record)):
            continue
        seen = latest.setdefault(record.subscriber_id, [None, None])
        seen[0] = _later_of(seen[0], record.occurred_at)
        if clicked:
            seen[1] = _later_of(seen[1], record.occurred_at)
    if latest and erased is None:  # an erased reader's late open (first-party) keeps nothing
        erased = (
            connection.execute(
                select(Subscriber.id).where(
                    one_of(connection, Subscriber.id, list(latest), BigInteger()),
                    Subscriber.erased_at.is_not(None),
                )
            )
            .scalars()
            .all()
        )
    for subscriber_id in erased or ():
        latest.pop(subscriber_id, None)
    if not latest:
        return 0
    rows = [
        {"subscriber_id": i, "last_opened_at": latest[i][0], "last_clicked_at": latest[i][1]}
        for i in sorted(latest)
    ]
    postgres = connection.dialect.name == "postgresql"
    parameter = rows_parameter(connection, rows, _COLUMNS)  # one JSON document: the same text
    connection.execute(_note_statement(postgres), parameter)
    return len(rows)


_COLUMNS = ("subscriber_id", "last_opened_at", "last_clicked_at")


@lru_cache(maxsize=2)
def _note_statement(postgres: bool) -> Any:
    """:func:`note_engagement`'s upsert, built once per dialect."""
    insert: Any = pg_insert if postgres else sqlite_insert
    statement = insert(ENGAGEMENT).from_select(
        list(_COLUMNS), rows_source(ENGAGEMENT, _COLUMNS, postgres)
    )
    table, new = ENGAGEMENT.c, statement.excluded
    return statement.on_conflict_do_update(
        index_elements=[table.subscriber_id],
        set_={
            "last_opened_at": _later(table.last_opened_at, new.last_opened_at),
            "last_clicked_at": _later(table.last_clicked_at, new.last_clicked_at),
        },
    )


def _later_of(current: datetime | None, new: datetime) -> datetime:
    return new if current is None or new > current else current


def _later(current: Any, new: Any) -> ColumnElement[Any]:
    """SQL: the later of two times, either may be NULL (SQLite's ``max(a, b)`` is NULL if
    either is)."""
    return case(
        (new.is_(None), current), (current.is_(None), new), (new > current, new), else_=current
    )


class _EngagementRule(Rule):
    within_days: int = Field(ge=1, le=3650)

    def last_seen(self) -> InstrumentedAttribute[datetime | None]:
        raise NotImplementedError

    def compile(self, ctx: RuleContext) -> ColumnElement[bool]:
        since = ctx.now - timedelta(days=self.within_days)
        last_seen = self.last_seen()
        if ENGAGEMENT.name in ctx.joined:  # false, not NULL, for a reader with no row
            return and_(last_seen.is_not(None), last_seen >= since)
        return exists(
            select(SubscriberEngagement.subscriber_id).where(
                SubscriberEngagement.subscriber_id == Subscriber.id, last_seen >= since
            )
        )

    def outer_joins(self) -> tuple[OuterJoin, ...]:
        return (OuterJoin(ENGAGEMENT, SubscriberEngagement.subscriber_id == Subscriber.id),)


class OpenedRule(_EngagementRule):
    """Subscribers who opened (or clicked in) a newsletter in the last ``within_days``."""

    type: Literal["opened"] = "opened"

    def last_seen(self) -> InstrumentedAttribute[datetime | None]:
        return SubscriberEngagement.last_opened_at


class ClickedRule(_EngagementRule):
    """Subscribers who clicked a link in a newsletter in the last ``within_days``."""

    type: Literal["clicked"] = "clicked"

    def last_seen(self) -> InstrumentedAttribute[datetime | None]:
        return SubscriberEngagement.last_clicked_at


ENGAGEMENT_RULES: tuple[type[Rule], ...] = (OpenedRule, ClickedRule)
"""The rule types this module adds (registered by :mod:`campaigns.wiring`)."""
