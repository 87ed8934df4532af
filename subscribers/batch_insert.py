"""New subscribers in batches: the CSV import's write path, shared by the API's confirmed adds.

A batch is checked against existing addresses and the suppression list in two queries
(:func:`known_and_suppressed`), then its new people are written with one multi-row
statement per table (:func:`insert_with_consents`): the subscriber rows, then a consent
record for each, whatever the caller's evidence is. Rows are mappings with every name in
:data:`SUBSCRIBER_COLUMNS` (and no other key: a row of exactly those keys is sent as it is).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, select

from subscribers.bulk import insert_rows, one_of
from subscribers.model import (
    NEW_SUBSCRIBER_COLUMNS,
    ConsentRecord,
    Subscriber,
    Suppression,
    table_of,
)

SUBSCRIBER_COLUMNS = (*NEW_SUBSCRIBER_COLUMNS, "confirmed_at", "welcome_from", "time_zone")
CONSENT_COLUMNS = ("subscriber_id", "kind", "at", "ip", "user_agent", "source", "form")

Row = Mapping[str, Any]


def known_and_suppressed(connection: Connection, rows: Sequence[Row]) -> tuple[set[str], set[str]]:
    """Of these rows, the ``email_key``\\ s that are subscribers already and the
    ``email_hash``\\ es on the suppression list (two queries, whatever the batch's size)."""
    keys = [row["email_key"] for row in rows]
    digests = [row["email_hash"] for row in rows]
    known = select(Subscriber.email_key).where(one_of(connection, Subscriber.email_key, keys))
    suppressed = select(Suppression.email_hash).where(
        one_of(connection, Suppression.email_hash, digests)
    )
    return set(connection.scalars(known)), set(connection.scalars(suppressed))


def insert_with_consents(
    connection: Connection, rows: Sequence[Row], consent_of: Callable[[int, int], Row]
) -> set[str]:
    """Insert new subscriber ``rows`` (none of them known: see :func:`known_and_suppressed`)
    and the consent record ``consent_of(index in rows, new id)`` gives for each; returns
    the ``email_key`` values written. A row whose address another transaction wrote since the
    look-up (a concurrent import, or a request the caller retried) is left out, not an error."""
    if not rows:
        return set()
    ids = insert_rows(
        connection,
        table_of(Subscriber),
        rows,
        SUBSCRIBER_COLUMNS,
        key="email_key",
        skip_conflicts=("email_key",),
    )
    consents = [
        consent_of(index, ids[row["email_key"]])
        for index, row in enumerate(rows)
        if row["email_key"] in ids
    ]
    insert_rows(connection, table_of(ConsentRecord), consents, CONSENT_COLUMNS)
    return set(ids)
