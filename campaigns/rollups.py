"""Report counters kept at ingest: what each delivery has had, and per-variant and per-link sums.

A report reads these, never the events: its cost depends on its campaign's variants and
links, not on how many events were stored (nor on other campaigns), and it keeps its totals
after the raw events are pruned. :func:`add_events` runs in the transaction that inserts
the events, for the events that were new (a provider's replay is a duplicate and adds
nothing), so the counters move exactly when the events table does.

- ``delivery_rollups``: one row per delivery that has had an event, with :class:`Mark` bits
  (delivered, bounced hard or soft, opened by a person or a machine, clicked by a reader,
  unsubscribed, complained …). Bits are only ever added; the unique figures of a variant
  are functions of its deliveries' bits (:func:`unique_figures`: a reader's click counts as
  an open, a machine open counts only for a delivery no person opened or clicked), so
  adding bits changes them by ``figures(new) - figures(old)``.
- ``variant_rollups``: per variant, those unique figures and the event totals (human opens,
  reader clicks, machine clicks), the numbers of :class:`campaigns.reports.Figures`.
- ``variant_deliveries``: per variant and delivery status, how many deliveries (kept by
  database triggers, not here: see :class:`VariantDeliveries`).
- ``campaign_tallies``: per campaign, reader clicks and the readers who made them per brief,
  per narrative, per link (or per URL in no link table), and machine opens and clicks by
  reason; ``delivery_clicks`` remembers which delivery has clicked which of them already.

Concurrency (several ingest threads or processes on PostgreSQL): a batch's bits go into
``delivery_rollups`` in one ``INSERT … ON CONFLICT DO UPDATE`` (rows in id order) that keeps
the bits it found in ``prev_flags`` and returns both: the update reads the row's latest
version under its lock, so two batches touching one delivery see each other's bits and
each learns exactly what it changed; counters move by atomic ``col = col + n`` upserts, in
key order, at the end of the transaction.
"""

from __future__ import annotations

import hashlib
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from enum import IntFlag
from functools import lru_cache
from typing import Any, cast

from sqlalchemy import BigInteger, Connection, Index, String, Table, Text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Mapped, mapped_column

from campaigns.events import OWN_LINK_SECTIONS, EventRecord
from newsletter.db import Base
from subscribers.bulk import rows_parameter, rows_source


class Mark(IntFlag):
    """What a delivery has had (bits of ``delivery_rollups.flags``)."""

    DELIVERED = 1
    BOUNCED = 2
    HARD_BOUNCED = 4
    SOFT_BOUNCED = 8
    DROPPED = 16
    DEFERRED = 32
    OPENED = 64  # a person's open
    MACHINE_OPENED = 128
    CLICKED = 256  # a reader's click on content
    UNSUBSCRIBED = 512
    COMPLAINED = 1024


# The unique figures: a delivery counts 1 in each whose condition its bits meet.
SIMPLE_FIGURES: dict[str, Mark] = {
    "delivered": Mark.DELIVERED,
    "bounced": Mark.BOUNCED,
    "hard_bounced": Mark.HARD_BOUNCED,
    "soft_bounced": Mark.SOFT_BOUNCED,
    "dropped": Mark.DROPPED,
    "deferred": Mark.DEFERRED,
    "clicked": Mark.CLICKED,
    "unsubscribed": Mark.UNSUBSCRIBED,
    "complained": Mark.COMPLAINED,
}
TOTAL_FIGURES = ("opens", "clicks", "machine_clicks")
FIGURES = (*SIMPLE_FIGURES, "opened", "machine_opened", *TOTAL_FIGURES)
_READ = Mark.OPENED | Mark.CLICKED


def unique_figures(flags: int) -> dict[str, int]:
    """The unique figures one delivery with these bits counts in (0 or 1 each)."""
    found = {name: int(bool(flags & mark)) for name, mark in SIMPLE_FIGURES.items()}
    found["opened"] = int(bool(flags & _READ))  # a click proves an open
    found["machine_opened"] = int(bool(flags & Mark.MACHINE_OPENED) and not flags & _READ)
    return found


@lru_cache(maxsize=4096)
def figure_changes(old: int, new: int) -> tuple[tuple[str, int], ...]:
    """The unique figures that move when a delivery's bits go from ``old`` to ``new``, and by
    how much (cached: there are few bit combinations, and a batch computes a thousand)."""
    before, after = unique_figures(old), unique_figures(new)
    return tuple(
        (name, after[name] - before[name]) for name in after if after[name] != before[name]
    )


class DeliveryRollup(Base):
    """What one delivery has had: :class:`Mark` bits, only ever added; ``prev_flags``: its
    bits before the last change (what lets one statement add bits and tell what changed)."""

    __tablename__ = "delivery_rollups"

    delivery_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    campaign_id: Mapped[int]
    variant_id: Mapped[int]
    flags: Mapped[int] = mapped_column(default=0)
    prev_flags: Mapped[int] = mapped_column(default=0, server_default="0")


class VariantRollup(Base):
    """One variant's event figures (the names of :class:`campaigns.reports.Figures`)."""

    __tablename__ = "variant_rollups"
    __table_args__ = (Index("ix_variant_rollups_campaign_id", "campaign_id"),)

    variant_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    campaign_id: Mapped[int]
    delivered: Mapped[int] = mapped_column(default=0)
    bounced: Mapped[int] = mapped_column(default=0)
    hard_bounced: Mapped[int] = mapped_column(default=0)
    soft_bounced: Mapped[int] = mapped_column(default=0)
    dropped: Mapped[int] = mapped_column(default=0)
    deferred: Mapped[int] = mapped_column(default=0)
    clicked: Mapped[int] = mapped_column(default=0)
    unsubscribed: Mapped[int] = mapped_column(default=0)
    complained: Mapped[int] = mapped_column(default=0)
    opened: Mapped[int] = mapped_column(default=0)
    machine_opened: Mapped[int] = mapped_column(default=0)
    opens: Mapped[int] = mapped_column(default=0)
    clicks: Mapped[int] = mapped_column(default=0)
    machine_clicks: Mapped[int] = mapped_column(default=0)


class CampaignTally(Base):
    """Per campaign: reader clicks (``total``) and clickers (``readers``) of one brief
    (``kind`` ``brief``, ``key`` its slug), narrative (``narrative``, ``slug\\x1fnarrative``),
    link (``link``, its id) or unknown URL (``url``); or machine events of one kind and reason
    (``machine``, ``opened:machine-open`` …; ``readers`` unused)."""

    __tablename__ = "campaign_tallies"

    campaign_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    kind: Mapped[str] = mapped_column(String(10), primary_key=True)
    key_hash: Mapped[str] = mapped_column(String(32), primary_key=True)
    key: Mapped[str] = mapped_column(Text)
    total: Mapped[int] = mapped_column(default=0)
    readers: Mapped[int] = mapped_column(default=0)


class VariantDeliveries(Base):
    """How many of a variant's deliveries are in each status (and, of them, how many were
    queued again after an unknown outcome). Kept by triggers on ``deliveries`` that
    migration 0020 creates (a statement-level one per insert, update and delete on
    PostgreSQL, row-level ones on SQLite), so every path that writes deliveries keeps it
    exact, in its own transaction."""

    __tablename__ = "variant_deliveries"
    __table_args__ = (Index("ix_variant_deliveries_campaign_id", "campaign_id"),)

    variant_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    status: Mapped[str] = mapped_column(String(8), primary_key=True)
    campaign_id: Mapped[int]
    deliveries: Mapped[int] = mapped_column(default=0)
    resent: Mapped[int] = mapped_column(default=0)


class DeliveryClick(Base):
    """A delivery has clicked this brief, narrative, link or URL (so it is counted once)."""

    __tablename__ = "delivery_clicks"

    delivery_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    kind: Mapped[str] = mapped_column(String(10), primary_key=True)
    key_hash: Mapped[str] = mapped_column(String(32), primary_key=True)


DELIVERY_ROLLUPS = cast(Table, DeliveryRollup.__table__)
VARIANT_ROLLUPS = cast(Table, VariantRollup.__table__)
CAMPAIGN_TALLIES = cast(Table, CampaignTally.__table__)
DELIVERY_CLICKS = cast(Table, DeliveryClick.__table__)
VARIANT_DELIVERIES = cast(Table, VariantDeliveries.__table__)
NARRATIVE_SEPARATOR = "\x1f"


@lru_cache(maxsize=4096)
def key_hash(key: str) -> str:
    """The fixed-size key a tally is stored under (URLs are too long for an index)."""
    return hashlib.blake2b(key.encode(), digest_size=16).hexdigest()


# --- what an event adds ------------------------------------------------------------------


def is_reader_click(record: EventRecord) -> bool:
    """A reader's click on content (as :func:`campaigns.events.reader_click` says in SQL)."""
    return (
        record.type == "clicked"
        and not record.machine
        and (record.section is None or record.section not in OWN_LINK_SECTIONS)
    )


def event_marks(record: EventRecord) -> Mark:
    """The bits one event gives its delivery."""
    return Mark(_event_bits(record))


def _event_bits(record: EventRecord) -> int:
    return _bits_of(record.type, record.bounce_type, record.machine, is_reader_click(record))


@lru_cache(maxsize=256)
def _bits_of(kind: str, bounce: str | None, machine: bool, reader_click: bool) -> int:
    """Cached per kind of event, as a plain int: IntFlag arithmetic costs microseconds, and a
    batch does it a thousand times."""
    if kind == "bounced":
        if bounce == "hard":
            return Mark.BOUNCED | Mark.HARD_BOUNCED
        if bounce == "soft":
            return Mark.BOUNCED | Mark.SOFT_BOUNCED
        return int(Mark.BOUNCED)
    if kind == "opened":
        return int(Mark.MACHINE_OPENED if machine else Mark.OPENED)
    if kind == "clicked":
        return int(Mark.CLICKED) if reader_click else 0
    return int(_SIMPLE_MARKS.get(kind, 0))


_SIMPLE_MARKS = {
    "delivered": Mark.DELIVERED,
    "dropped": Mark.DROPPED,
    "deferred": Mark.DEFERRED,
    "unsubscribed": Mark.UNSUBSCRIBED,
    "complained": Mark.COMPLAINED,
}


def event_totals(record: EventRecord) -> str | None:
    """The total figure one event adds 1 to, if any."""
    if record.type == "opened" and not record.machine:
        return "opens"
    if record.type == "clicked":
        return "machine_clicks" if record.machine else "clicks" if is_reader_click(record) else None
    return None


def click_keys(record: EventRecord) -> list[tuple[str, str]]:
    """The tallies a reader's click counts in: its brief, narrative and link (or URL)."""
    keys: list[tuple[str, str]] = []
    if record.brief_slug:
        keys.append(("brief", record.brief_slug))
        if record.narrative:
            keys.append(
                ("narrative", f"{record.brief_slug}{NARRATIVE_SEPARATOR}{record.narrative}")
            )
    if record.link_id:
        keys.append(("link", record.link_id))
    elif record.url:
        keys.append(("url", record.url))
    return keys


# --- adding a batch ----------------------------------------------------------------------


def add_events(connection: Connection, records: Iterable[EventRecord]) -> None:
    """Count newly stored events (those tied to a delivery) in the rollups."""
    tied = [r for r in records if r.delivery_id is not None and r.variant_id is not None]
    if not tied:
        return
    marks: dict[int, int] = defaultdict(int)
    owner: dict[int, tuple[int, int]] = {}
    deltas: dict[int, Counter[str]] = defaultdict(Counter)
    for record in tied:
        delivery = cast(int, record.delivery_id)
        variant = cast(int, record.variant_id)
        owner[delivery] = (cast(int, record.campaign_id), variant)
        marks[delivery] |= _event_bits(record)
        total = event_totals(record)
        if total is not None:
            deltas[variant][total] += 1
    for delivery, (old, new) in _merge_marks(connection, marks, owner).items():
        delta = deltas[owner[delivery][1]]
        for name, change in figure_changes(old, new):
            delta[name] += change
    campaign_of = {variant: campaign for campaign, variant in owner.values()}
    _add_tallies(connection, tied)
    _add_to_variants(connection, deltas, campaign_of)


def _merge_marks(
    connection: Connection, marks: Mapping[int, int], owner: Mapping[int, tuple[int, int]]
) -> dict[int, tuple[int, int]]:
    """Add the bits to each delivery's row; ``{delivery: (old bits, new bits)}`` of the rows
    whose bits changed. One statement: a new row goes in with its bits (``prev_flags`` 0),
    an existing one gets them added where that changes it, and keeps what it had in
    ``prev_flags``, read under the row's lock (so exact when batches race)."""
    wanted = {d: bits for d, bits in marks.items() if bits}
    if not wanted:
        return {}
    rows = [
        {
            "delivery_id": d,
            "campaign_id": owner[d][0],
            "variant_id": owner[d][1],
            "flags": bits,
            "prev_flags": 0,
        }
        for d, bits in sorted(wanted.items())
    ]
    postgres = connection.dialect.name == "postgresql"
    changed = connection.execute(
        _merge_statement(postgres), rows_parameter(connection, rows, _MARK_COLUMNS)
    ).all()
    return {delivery: (old, bits) for delivery, old, bits in changed}


_MARK_COLUMNS = ("delivery_id", "campaign_id", "variant_id", "flags", "prev_flags")


@lru_cache(maxsize=2)
def _merge_statement(postgres: bool) -> Any:
    """:func:`_merge_marks`'s statement, built once per dialect."""
    source = rows_source(DELIVERY_ROLLUPS, _MARK_COLUMNS, postgres)
    statement = _insert(postgres, DELIVERY_ROLLUPS).from_select(list(_MARK_COLUMNS), source)
    table, new = DELIVERY_ROLLUPS.c, statement.excluded
    return statement.on_conflict_do_update(
        index_elements=["delivery_id"],
        set_={"prev_flags": table.flags, "flags": table.flags.op("|")(new.flags)},
        where=table.flags.op("|")(new.flags) != table.flags,
    ).returning(table.delivery_id, table.prev_flags, table.flags)


def _add_to_variants(
    connection: Connection, deltas: Mapping[int, Counter[str]], campaign_of: Mapping[int, int]
) -> None:
    rows = []
    for variant, delta in sorted(deltas.items()):
        moved = {name: delta.get(name, 0) for name in FIGURES}
        if any(moved.values()):
            rows.append({"variant_id": variant, "campaign_id": campaign_of[variant], **moved})
    if not rows:
        return
    _upsert_sums(connection, VARIANT_ROLLUPS, rows, ("variant_id",), FIGURES)


def _add_tallies(connection: Connection, records: Sequence[EventRecord]) -> None:
    """Reader clicks per brief, narrative and link (clickers once each), machine events per
    reason."""
    totals: Counter[tuple[int, str, str]] = Counter()
    clicked: dict[tuple[int, str, str], set[int]] = defaultdict(set)
    for record in records:
        campaign = cast(int, record.campaign_id)
        if record.machine and record.type in ("opened", "clicked"):
            totals[(campaign, "machine", f"{record.type}:{record.machine_reason}")] += 1
        elif is_reader_click(record):
            for kind, key in click_keys(record):
                totals[(campaign, kind, key)] += 1
                clicked[(campaign, kind, key)].add(cast(int, record.delivery_id))
    if not totals:
        return
    readers = _new_clickers(connection, clicked)
    rows = [
        {
            "campaign_id": campaign,
            "kind": kind,
            "key_hash": key_hash(key),
            "key": key,
            "total": total,
            "readers": readers.get((campaign, kind, key), 0),
        }
        for (campaign, kind, key), total in totals.items()
    ]
    rows.sort(key=lambda row: (row["campaign_id"], row["kind"], row["key_hash"]))
    _upsert_sums(
        connection,
        CAMPAIGN_TALLIES,
        rows,
        ("campaign_id", "kind", "key_hash"),
        ("total", "readers"),
    )


def _new_clickers(
    connection: Connection, clicked: Mapping[tuple[int, str, str], set[int]]
) -> Counter[tuple[int, str, str]]:
    """How many deliveries clicked each tally's key for the first time."""
    marks = {
        (delivery, kind, key_hash(key)): (campaign, kind, key)
        for (campaign, kind, key), deliveries in clicked.items()
        for delivery in deliveries
    }
    found: Counter[tuple[int, str, str]] = Counter()
    if not marks:
        return found
    rows = [
        {"delivery_id": delivery, "kind": kind, "key_hash": digest}
        for delivery, kind, digest in sorted(marks)
    ]
    postgres = connection.dialect.name == "postgresql"
    new = connection.execute(
        _clicks_statement(postgres), rows_parameter(connection, rows, _CLICK_COLUMNS)
    ).all()
    for delivery, kind, digest in new:
        found[marks[(delivery, kind, digest)]] += 1
    return found


_CLICK_COLUMNS = ("delivery_id", "kind", "key_hash")


@lru_cache(maxsize=2)
def _clicks_statement(postgres: bool) -> Any:
    """:func:`_new_clickers`'s statement, built once per dialect."""
    table = DELIVERY_CLICKS.c
    return (
        _insert(postgres, DELIVERY_CLICKS)
        .from_select(list(_CLICK_COLUMNS), rows_source(DELIVERY_CLICKS, _CLICK_COLUMNS, postgres))
        .on_conflict_do_nothing()
        .returning(table.delivery_id, table.kind, table.key_hash)
    )


def _upsert_sums(
    connection: Connection,
    table: Table,
    rows: Sequence[Mapping[str, Any]],
    key: Sequence[str],
    sums: Sequence[str],
) -> None:
    """Insert ``rows`` (in key order), adding ``sums`` to those of rows already there: one
    statement whose text is the same for every batch (built once)."""
    columns = tuple(rows[0])
    postgres = connection.dialect.name == "postgresql"
    statement = _sums_statement(table, columns, tuple(key), tuple(sums), postgres)
    connection.execute(statement, rows_parameter(connection, rows, columns))


@lru_cache(maxsize=16)
def _sums_statement(
    table: Table,
    columns: tuple[str, ...],
    key: tuple[str, ...],
    sums: tuple[str, ...],
    postgres: bool,
) -> Any:
    statement = _insert(postgres, table).from_select(
        list(columns), rows_source(table, columns, postgres)
    )
    return statement.on_conflict_do_update(
        index_elements=list(key),
        set_={name: table.c[name] + statement.excluded[name] for name in sums},
    )


def _insert(postgres: bool, table: Table) -> Any:
    return (pg_insert if postgres else sqlite_insert)(table)
