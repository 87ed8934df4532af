"""How long events are kept: monthly partitions on PostgreSQL, and pruning old history.

``newsletter events prune --older-than 13m`` (:func:`prune_events`) removes the events that
occurred before the cutoff and the payloads (raw provider event, user agent) received more
than ``NEWSLETTER_EVENT_PAYLOAD_DAYS`` ago (or before the cutoff, if that is later):

- PostgreSQL: ``events`` is partitioned by month of ``occurred_at``; every partition whose
  whole month lies before the cutoff is dropped (no row-by-row delete, no bloat). The month
  the cutoff falls in stays until it is wholly older. Rows that landed in the DEFAULT
  partition (times outside every month's partition) are deleted in batches.
- SQLite: the events before the cutoff are deleted in batches of :data:`BATCH` rows, one
  short transaction each, so other writers are never held up for long.

Partitions are made ahead (:data:`MONTHS_AHEAD` after the current month) by the migration,
by every prune, by the scheduler, and by ingest once per month and process
(:func:`keep_partitions_ahead`); the DEFAULT partition takes any row no month's partition
would, so an insert never fails. Making a month's partition moves the rows of that month
out of the DEFAULT partition first.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Literal, cast

from sqlalchemy import Connection, Engine, func, select, text
from sqlalchemy.exc import DBAPIError

from campaigns.payloads import drop_payloads
from newsletter.db import Database
from newsletter.errors import InvalidInput

log = logging.getLogger(__name__)
MONTHS_AHEAD = 2
BATCH = 5000
DEFAULT_PARTITION = "events_default"
_MONTHLY = re.compile(r"events_(\d{4})_(\d{2})")
_AGE = re.compile(r"(\d{1,5})([dwm])")
_PARTITION_LOCK = 0x6576_656E_7473  # advisory lock key: one partition maker at a time
Unit = Literal["d", "w", "m"]


@dataclass(frozen=True, slots=True)
class Age:
    """An age such as ``13m`` (months), ``8w`` (weeks) or ``30d`` (days)."""

    amount: int
    unit: Unit

    def before(self, now: datetime) -> datetime:
        """The moment this age before ``now`` (months by the calendar, day clamped)."""
        if self.unit == "d":
            return now - timedelta(days=self.amount)
        if self.unit == "w":
            return now - timedelta(weeks=self.amount)
        months = now.year * 12 + now.month - 1 - self.amount
        year, month = divmod(months, 12)
        last_day = (_month_after(date(year, month + 1, 1)) - timedelta(days=1)).day
        return now.replace(year=year, month=month + 1, day=min(now.day, last_day))


def parse_age(value: str, *, field_name: str = "--older-than") -> Age:
    """``Nd``, ``Nw`` or ``Nm`` (N ≥ 1) as an :class:`Age`; :class:`InvalidInput` otherwise."""
    found = _AGE.fullmatch(value.strip().lower())
    if found is None or int(found[1]) == 0:
        raise InvalidInput(
            field_name,
            f"{value!r} is not an age: write a whole number of days, weeks or months "
            "followed by d, w or m (30d, 8w, 13m)",
        )
    return Age(int(found[1]), cast(Unit, found[2]))


@dataclass(slots=True)
class PruneReport:
    """What a prune removed (or, with ``dry_run``, would remove)."""

    cutoff: datetime
    payload_cutoff: datetime
    dry_run: bool
    created: list[str] = field(default_factory=list)
    partitions: list[tuple[str, int]] = field(default_factory=list)
    events_deleted: int = 0
    payloads_deleted: int = 0
    kept_from: date | None = None  # PostgreSQL: the first day of the cutoff's month

    @property
    def events_removed(self) -> int:
        return self.events_deleted + sum(rows for _, rows in self.partitions)

    def lines(self) -> list[str]:
        drop, gone = ("would drop", "would go") if self.dry_run else ("dropped", "removed")
        lines = [f"created partition {name}" for name in self.created]
        lines += [f"{drop} partition {name} ({rows:,} events)" for name, rows in self.partitions]
        lines.append(
            f"events before {self.cutoff:%Y-%m-%d %H:%M} UTC: {self.events_removed:,} {gone}"
        )
        if self.kept_from is not None:
            lines.append(
                f"events from {self.kept_from:%Y-%m-%d} on stay (partitions go by whole months)"
            )
        lines.append(
            f"payloads received before {self.payload_cutoff:%Y-%m-%d %H:%M} UTC: "
            f"{self.payloads_deleted:,} {gone}"
        )
        return lines


def prune_events(
    database: Database,
    older_than: Age,
    *,
    payload_days: int,
    now: datetime | None = None,
    dry_run: bool = False,
) -> PruneReport:
    """Remove events older than ``older_than`` and payloads older than ``payload_days``."""
    now = now or datetime.now(UTC)
    cutoff = older_than.before(now)
    report = PruneReport(
        cutoff=cutoff,
        payload_cutoff=max(cutoff, now - timedelta(days=payload_days)),
        dry_run=dry_run,
    )
    engine = database.engine
    if engine.dialect.name == "postgresql":
        report.kept_from = cutoff.date().replace(day=1)
        if not dry_run:
            with engine.begin() as connection:
                report.created = ensure_partitions(connection, now.date())
        report.partitions = _drop_old_partitions(engine, cutoff, dry_run)
        report.events_deleted = _delete_in_batches(
            engine, DEFAULT_PARTITION, "id", "occurred_at", cutoff, dry_run
        )
    else:
        report.events_deleted = _delete_in_batches(
            engine, "events", "id", "occurred_at", cutoff, dry_run
        )
    report.payloads_deleted = _drop_payloads(engine, report.payload_cutoff, dry_run)
    return report


def _drop_payloads(engine: Engine, cutoff: datetime, dry_run: bool) -> int:
    """Delete the payloads received before ``cutoff`` (whole batches of them, see
    :func:`campaigns.payloads.drop_payloads`); how many (with ``dry_run``, how many would go)."""
    return drop_payloads(engine, cutoff, BATCH, dry_run)


def _delete_in_batches(
    engine: Engine, table: str, key: str, moment: str, cutoff: datetime, dry_run: bool
) -> int:
    """Delete ``table``'s rows whose ``moment`` is before ``cutoff``, :data:`BATCH` at a time,
    one transaction each; how many (with ``dry_run``, how many would go)."""
    when = _bind_time(engine, cutoff)
    if dry_run:
        with engine.connect() as connection:
            count = text(f"SELECT count(*) FROM {table} WHERE {moment} < :cutoff")  # noqa: S608
            return int(connection.execute(count, {"cutoff": when}).scalar_one())
    statement = text(
        f"DELETE FROM {table} WHERE {key} IN "  # noqa: S608 (names are ours, not input)
        f"(SELECT {key} FROM {table} WHERE {moment} < :cutoff LIMIT :batch)"
    )
    total = 0
    while True:
        with engine.begin() as connection:
            deleted = connection.execute(statement, {"cutoff": when, "batch": BATCH}).rowcount
        total += deleted
        if deleted < BATCH:
            return total


def _bind_time(engine: Engine, moment: datetime) -> datetime | str:
    """A time as the column stores it (naive UTC text on SQLite, see ``UTCDateTime``)."""
    if engine.dialect.name == "sqlite":
        return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    return moment


def _drop_old_partitions(engine: Engine, cutoff: datetime, dry_run: bool) -> list[tuple[str, int]]:
    """Drop (or, with ``dry_run``, list) the monthly partitions wholly before ``cutoff``."""
    dropped: list[tuple[str, int]] = []
    with engine.connect() as connection:
        names = sorted(monthly_partitions(connection).items())
    for name, start in names:
        if datetime.combine(_month_after(start), datetime.min.time(), UTC) > cutoff:
            continue
        with engine.begin() as connection:
            rows = connection.execute(text(f"SELECT count(*) FROM {name}")).scalar_one()  # noqa: S608
            if not dry_run:
                connection.execute(text(f"DROP TABLE {name}"))
        dropped.append((name, int(rows)))
    return dropped


def monthly_partitions(connection: Connection) -> dict[str, date]:
    """The monthly partitions of ``events`` (name → first day of its month)."""
    rows = connection.execute(
        text(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = 'events'::regclass"
        )
    ).scalars()
    found: dict[str, date] = {}
    for name in rows:
        match = _MONTHLY.fullmatch(name)
        if match:
            found[name] = date(int(match[1]), int(match[2]), 1)
    return found


def ensure_partitions(connection: Connection, today: date, ahead: int = MONTHS_AHEAD) -> list[str]:
    """PostgreSQL: make the partitions of this month and the ``ahead`` next ones that are
    missing (moving their rows out of the DEFAULT partition); their names. SQLite: none."""
    if connection.dialect.name != "postgresql":
        return []
    connection.execute(select(func.pg_advisory_xact_lock(_PARTITION_LOCK)))
    existing = set(monthly_partitions(connection).values())
    created = []
    month = today.replace(day=1)
    for _ in range(ahead + 1):
        if month not in existing:
            created.append(_create_partition(connection, month))
        month = _month_after(month)
    return created


def _create_partition(connection: Connection, start: date) -> str:
    name = f"events_{start:%Y_%m}"
    low, high = (
        f"'{start.isoformat()} 00:00:00+00'",
        f"'{_month_after(start).isoformat()} 00:00:00+00'",
    )
    create = text(f"CREATE TABLE {name} PARTITION OF events FOR VALUES FROM ({low}) TO ({high})")
    in_range = f"occurred_at >= {low} AND occurred_at < {high}"
    strays = f"SELECT EXISTS (SELECT 1 FROM {DEFAULT_PARTITION} WHERE {in_range})"  # noqa: S608
    if not connection.execute(text(strays)).scalar_one():
        connection.execute(create)
        return name
    # the DEFAULT partition may hold no row of a month that has its own partition
    connection.execute(text(f"ALTER TABLE events DETACH PARTITION {DEFAULT_PARTITION}"))
    connection.execute(create)
    move = f"INSERT INTO events SELECT * FROM {DEFAULT_PARTITION} WHERE {in_range}"  # noqa: S608
    connection.execute(text(move))
    connection.execute(text(f"DELETE FROM {DEFAULT_PARTITION} WHERE {in_range}"))  # noqa: S608
    connection.execute(text(f"ALTER TABLE events ATTACH PARTITION {DEFAULT_PARTITION} DEFAULT"))
    return name


_kept_ahead: set[tuple[str, date]] = set()


def keep_partitions_ahead(engine: Engine, today: date) -> None:
    """:func:`ensure_partitions` in a transaction of its own, once per month and process
    for each database (ingest calls it for every batch: afterwards a set look-up). It waits
    at most a second for its locks, and a failure only leaves it for the next batch: the
    DEFAULT partition takes the rows meanwhile."""
    if engine.dialect.name != "postgresql":
        return
    key = (engine.url.render_as_string(), today.replace(day=1))
    if key in _kept_ahead:
        return
    try:
        with engine.begin() as connection:
            connection.execute(text("SET LOCAL lock_timeout = '1s'"))
            ensure_partitions(connection, today)
    except DBAPIError as exc:
        log.warning("events: partitions ahead not made yet (%s); retried on the next batch", exc)
        return
    _kept_ahead.add(key)


def _month_after(day: date) -> date:
    return date(day.year + day.month // 12, day.month % 12 + 1, 1)
