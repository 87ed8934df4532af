"""Events' payloads (raw provider event, user agent), kept a while, one row per batch.

:class:`~campaigns.events.EventBatch` holds the payloads of the events recorded together
and received at one time: :func:`store_payloads` writes one row for a webhook batch of a
thousand events (one JSON document, written by ``orjson``), where one row per event cost a
thousand heap and index entries. What reads a single event's payload (export, erasure)
finds the batches whose id range covers the event's id, and the entry in them:
:func:`payloads_of`. Erasure rewrites those batches without the person's entries
(:func:`forget_payloads`), so nothing of theirs stays in a batch shared with others; the
prune drops whole batches once received longer ago than the payload period
(:func:`drop_payloads`).
"""

from __future__ import annotations

import json
from bisect import bisect_left
from collections import defaultdict
from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any, NamedTuple, cast

import orjson
from sqlalchemy import (
    JSON,
    BigInteger,
    Connection,
    Engine,
    Table,
    Text,
    bindparam,
    delete,
    func,
    insert,
    select,
    update,
)
from sqlalchemy import cast as sql_cast

from campaigns.events import EventBatch, EventRecord
from subscribers.bulk import one_of

BATCHES = cast(Table, EventBatch.__table__)


class StoredPayload(NamedTuple):
    """One event's payload: its ``events.id``, when it arrived, user agent and raw event."""

    event_id: int
    received_at: datetime
    user_agent: str | None
    raw: Any


def store_payloads(connection: Connection, stored: Sequence[tuple[int, EventRecord]]) -> None:
    """Keep the payloads of newly stored events (``(events.id, record)`` pairs): one row per
    time of arrival (a webhook batch has one)."""
    groups: dict[datetime, list[list[Any]]] = defaultdict(list)
    for event_id, record in stored:
        groups[record.received_at].append([event_id, record.user_agent, record.raw])
    postgres = connection.dialect.name == "postgresql"
    document = bindparam("events", type_=Text)
    statement = insert(BATCHES).values(
        events=sql_cast(document, JSON) if postgres else document  # sent as it is stored
    )
    for received_at, entries in groups.items():
        ids = [entry[0] for entry in entries]
        connection.execute(
            statement,
            {
                "received_at": received_at,
                "first_event": min(ids),
                "last_event": max(ids),
                "size": len(entries),
                "events": _json(entries),
            },
        )


def _json(entries: list[list[Any]]) -> str:
    """``orjson`` (one call for the batch), the standard library for what orjson refuses
    (integers beyond 64 bits, nesting deeper than 254 levels: odd provider events)."""
    try:
        return orjson.dumps(entries).decode()
    except TypeError:  # orjson.JSONEncodeError is one
        return json.dumps(entries)


def _covering(
    connection: Connection, ids: Collection[int], *, lock: bool = False
) -> list[tuple[int, datetime, list[Any]]]:
    """The batches that hold one of ``ids``' payloads: ``(batch id, received at, entries)``; with
    ``lock``, locked until the transaction ends (two erasures rewriting one batch must not
    write back each other's entries)."""
    if not ids:
        return []
    table = BATCHES.c
    bounds = connection.execute(
        select(table.id, table.first_event, table.last_event).where(
            table.last_event >= min(ids), table.first_event <= max(ids)
        )
    ).all()
    wanted = sorted(ids)
    candidates = [batch for batch, low, high in bounds if _holds_one(wanted, low, high)]
    if not candidates:
        return []
    statement = (
        select(table.id, table.received_at, table.events)
        .where(one_of(connection, table.id, candidates, BigInteger()))
        .order_by(table.id)
    )
    rows = connection.execute(statement.with_for_update() if lock else statement).all()
    return [(batch, received_at, list(entries or [])) for batch, received_at, entries in rows]


def _holds_one(ordered: list[int], low: int, high: int) -> bool:
    """Whether one of the ``ordered`` ids lies between ``low`` and ``high``."""
    at = bisect_left(ordered, low)
    return at < len(ordered) and ordered[at] <= high


def payloads_of(connection: Connection, ids: Collection[int]) -> dict[int, StoredPayload]:
    """The payloads kept for the events whose ``events.id`` are ``ids``, by id."""
    wanted = set(ids)
    found: dict[int, StoredPayload] = {}
    for _, received_at, entries in _covering(connection, wanted):
        for event_id, user_agent, raw in entries:
            if event_id in wanted:
                found[event_id] = StoredPayload(event_id, received_at, user_agent, raw)
    return found


def forget_payloads(connection: Connection, ids: Collection[int]) -> int:
    """Remove the payloads of the events ``ids`` from their batches (a batch left empty
    goes); how many were removed."""
    wanted = set(ids)
    removed = 0
    table = BATCHES.c
    for batch, _, entries in _covering(connection, wanted, lock=True):
        kept = [entry for entry in entries if entry[0] not in wanted]
        if len(kept) == len(entries):
            continue
        removed += len(entries) - len(kept)
        if not kept:
            connection.execute(delete(BATCHES).where(table.id == batch))
            continue
        kept_ids = [entry[0] for entry in kept]
        connection.execute(
            update(BATCHES)
            .where(table.id == batch)
            .values(
                events=kept,
                size=len(kept),
                first_event=min(kept_ids),
                last_event=max(kept_ids),
            )
        )
    return removed


def drop_payloads(engine: Engine, cutoff: datetime, batch: int, dry_run: bool) -> int:
    """Delete the batches received before ``cutoff``, ``batch`` rows at a time from the
    lowest id up (ids are given as batches arrive), until a round reaches one received
    later; how many payloads went (with ``dry_run``, how many would go)."""
    table = BATCHES.c
    after, total = -1, 0
    while True:
        with engine.begin() as connection:
            rows = connection.execute(
                select(table.id, table.received_at, table.size)
                .where(table.id > after)
                .order_by(table.id)
                .limit(batch)
            ).all()
            old = [(int(row.id), int(row.size)) for row in rows if row.received_at < cutoff]
            if old and not dry_run:
                connection.execute(
                    delete(BATCHES).where(
                        one_of(connection, table.id, [i for i, _ in old], BigInteger())
                    )
                )
        total += sum(size for _, size in old)
        if len(old) < batch:
            return total
        after = int(rows[-1].id)


def payload_count(connection: Connection) -> int:
    """How many events' payloads are kept."""
    return int(connection.execute(select(func.coalesce(func.sum(BATCHES.c.size), 0))).scalar_one())
