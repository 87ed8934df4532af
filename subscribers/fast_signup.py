"""PostgreSQL's one-statement signup for an address we have never seen (the common case).

A new signup writes three rows (subscriber, consent record, queued confirmation mail). Done
as separate statements that is seven round trips with ``BEGIN`` and ``COMMIT``, and each
statement is rebuilt in Python every time. Here the three inserts are one statement built
once: data-modifying CTEs, the subscriber insert guarded by the suppression list and
``ON CONFLICT (email_key) DO NOTHING``. A single statement is atomic on its own, so it runs
in autocommit: one round trip, prepared by the driver after a few uses.

If the statement inserts nothing (the address is known, or suppressed), the caller runs the
general :func:`subscribers.signup.signup`, which decides what a known address gets. The
outcome is the same either way; this only makes the common case cheap.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from sqlalchemy import Connection, Select, bindparam, exists, insert, literal, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from starlette.concurrency import run_in_threadpool

from newsletter.db import Database, utcnow
from subscribers.model import (
    NEW_SUBSCRIBER_COLUMNS,
    ConsentRecord,
    QueuedMail,
    Subscriber,
    Suppression,
    new_uid,
    table_of,
)
from subscribers.signup import (
    Origin,
    SignupForm,
    SignupResult,
    consent_values,
    retrying_unique,
    signup,
)

log = logging.getLogger(__name__)


@cache
def _statement() -> Select[Any]:
    subscribers = table_of(Subscriber)
    consents = table_of(ConsentRecord)
    mails = table_of(QueuedMail)
    suppressions = table_of(Suppression)

    def param(name: str, column: Any) -> Any:
        return bindparam(name, type_=column.type)

    now = param("now", subscribers.c.created_at)
    email_hash = param("email_hash", subscribers.c.email_hash)
    new_subscriber = (
        pg_insert(subscribers)
        .from_select(
            [*NEW_SUBSCRIBER_COLUMNS, "confirmation_sent_at", "time_zone"],
            select(
                param("uid", subscribers.c.uid),
                param("email", subscribers.c.email),
                param("email_key", subscribers.c.email_key),
                email_hash,
                param("name", subscribers.c.name),
                literal("pending"),
                param("topics", subscribers.c.topics),
                literal("all"),
                param("attributes", subscribers.c.attributes),
                param("source", subscribers.c.source),
                now,
                now,
                param("time_zone", subscribers.c.time_zone),
            ).where(~exists().where(suppressions.c.email_hash == email_hash)),
        )
        .on_conflict_do_nothing(index_elements=[subscribers.c.email_key])
        .returning(subscribers.c.id)
        .cte("new_subscriber")
    )
    consent = insert(consents).from_select(
        ["subscriber_id", "kind", "at", "ip", "user_agent", "source", "form"],
        select(
            new_subscriber.c.id,
            literal("signup"),
            now,
            param("ip", consents.c.ip),
            param("user_agent", consents.c.user_agent),
            param("source", consents.c.source),
            param("form", consents.c.form),
        ),
    )
    mail = insert(mails).from_select(
        ["kind", "subscriber_id", "status", "attempts", "created_at", "available_at"],
        select(
            literal("confirmation"), new_subscriber.c.id, literal("queued"), literal(0), now, now
        ),
    )
    return select(new_subscriber.c.id).add_cte(consent.cte("consent"), mail.cte("mail"))


def _parameters(form: SignupForm, origin: Origin, now: datetime) -> dict[str, Any]:
    consent = consent_values(0, "signup", origin, form.form, now)
    return {
        "uid": new_uid(),
        "email": form.address.email,
        "email_key": form.address.key,
        "email_hash": form.address.digest,
        "name": form.name,
        "topics": list(form.topics),
        "time_zone": form.time_zone,
        "attributes": {},
        "source": origin.source,
        "now": now,
        "ip": consent["ip"],
        "user_agent": consent["user_agent"],
        "form": consent["form"],
    }


def insert_new_signup(
    connection: Connection, form: SignupForm, origin: Origin, now: datetime
) -> bool:
    """Insert a brand-new pending subscriber with consent and mail; False if not new."""
    return connection.execute(_statement(), _parameters(form, origin, now)).first() is not None


def record_signup(
    database: Database, form: SignupForm, origin: Origin, *, resend_after: timedelta
) -> SignupResult:
    """A whole signup: the one-statement path on PostgreSQL when the address is new,
    else (and on SQLite) :func:`~subscribers.signup.signup` in a retried transaction."""
    now = utcnow()
    if database.dialect == "postgresql":
        with database.engine.connect() as connection:
            autocommit = connection.execution_options(isolation_level="AUTOCOMMIT")
            if insert_new_signup(autocommit, form, origin, now):
                return SignupResult.QUEUED
    return _general(database, form, origin, resend_after, now)


def _general(
    database: Database, form: SignupForm, origin: Origin, resend_after: timedelta, now: datetime
) -> SignupResult:
    return retrying_unique(
        database, lambda session: signup(session, form, origin, resend_after=resend_after, now=now)
    )


class FastSignups:
    """The one-statement path over an asyncio connection pool, for the web app.

    A signup request then never leaves the event loop for the common case: no thread-pool
    hop, no GIL hand-over per database round trip (measured: more signups per second than
    the same statement run in the thread pool; ``docs/benchmarks.md``, Subscribers). The
    pool's connections belong to the event loop that first used them, so :meth:`close` must
    run on it (the app's lifespan does that). Anything unusual (a known address, a dropped
    connection) falls back to the general path in the thread pool, which has the sync pool's
    pre-ping.
    """

    def __init__(self, database: Database, *, pool_size: int) -> None:
        self.database = database
        self.engine: AsyncEngine = create_async_engine(
            database.engine.url, pool_size=pool_size, max_overflow=0, isolation_level="AUTOCOMMIT"
        )

    async def record(
        self, form: SignupForm, origin: Origin, *, resend_after: timedelta
    ) -> SignupResult:
        now = utcnow()
        try:
            async with self.engine.connect() as connection:
                result = await connection.execute(_statement(), _parameters(form, origin, now))
                if result.first() is not None:
                    return SignupResult.QUEUED
        except DBAPIError as exc:  # e.g. the server restarted: the general path reconnects
            log.warning("fast signup path failed (%s); using the general path", exc.orig)
        return await run_in_threadpool(_general, self.database, form, origin, resend_after, now)

    async def close(self) -> None:
        await self.engine.dispose()
