"""Engine, sessions, declarative ``Base`` and schema migrations for SQLite and PostgreSQL.

Every command opens the database through :func:`open_database`, which applies pending
Alembic migrations first, so a fresh database works without a separate set-up step.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import JSON, DateTime, Engine, MetaData, create_engine, event
from sqlalchemy.engine import Dialect, make_url
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

from newsletter.errors import ConfigurationError

# A fixed key so that several processes starting at once upgrade the schema one at a time.
_MIGRATION_LOCK_KEY = 0x6E6C6D67  # "nlmg"


def utcnow() -> datetime:
    """The current time, timezone-aware in UTC (the only kind of time we store)."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp that refuses naive datetimes and always comes back aware, in UTC.

    PostgreSQL keeps the zone itself; SQLite has no zone type, so values are stored as UTC
    and the zone is put back on the way out.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: store timezone-aware UTC times only")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    """Declarative base of every table; constraint names are deterministic for migrations."""

    metadata = MetaData(
        naming_convention={
            "ix": "ix_%(column_0_label)s",
            "uq": "uq_%(table_name)s_%(column_0_N_name)s",
            "ck": "ck_%(table_name)s_%(constraint_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
    )
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime(),
        dict[str, Any]: JSON(),
        list[str]: JSON(),
        list[int]: JSON(),
    }


def make_engine(url: str, *, setting: str = "NEWSLETTER_DATABASE_URL", **kwargs: Any) -> Engine:
    """An engine with the per-dialect settings this application relies on; a URL that is not
    one is refused naming ``setting``, with any password hidden."""
    from newsletter.config import without_password

    try:
        parsed = make_url(url)
    except Exception as exc:
        raise ConfigurationError(
            f"{setting} is not a database URL: {without_password(url)!r}"
        ) from exc
    if parsed.get_backend_name() == "sqlite":
        kwargs.setdefault("connect_args", {"timeout": 30})
        engine = create_engine(parsed, **kwargs)
        event.listen(engine, "connect", _configure_sqlite)
        return engine
    if parsed.get_backend_name() == "postgresql":
        if parsed.drivername == "postgresql":
            parsed = parsed.set(drivername="postgresql+psycopg")
        kwargs.setdefault("pool_pre_ping", True)
        return create_engine(parsed, **kwargs)
    raise ConfigurationError(
        f"unsupported database {parsed.get_backend_name()!r}: use sqlite:// or postgresql://"
    )


def _configure_sqlite(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


class Database:
    """One database: its engine and a session factory; sessions never expire on commit."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.sessions = sessionmaker(engine, expire_on_commit=False)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A session inside one transaction: committed on success, rolled back on any error."""
        with self.sessions.begin() as session:
            yield session

    @contextmanager
    def reading(self) -> Iterator[Session]:
        """A session inside one read-only transaction (PostgreSQL ``READ ONLY``, SQLite
        ``query_only``): what reports and counts use, on a replica or not, so that a write
        slipped into them fails at once instead of landing on a replica."""
        with self.sessions.begin() as session:
            connection = session.connection()
            if self.dialect == "postgresql":
                connection.exec_driver_sql("SET TRANSACTION READ ONLY")
                yield session
                return
            connection.exec_driver_sql("PRAGMA query_only = ON")
            try:
                yield session
            finally:
                connection.exec_driver_sql("PRAGMA query_only = OFF")

    def session(self) -> Session:
        return self.sessions()

    def upgrade(self) -> list[str]:
        """Apply pending migrations; returns the revisions applied (empty when up to date)."""
        from newsletter import migrate

        return migrate.upgrade(self.engine, lock_key=_MIGRATION_LOCK_KEY)

    def dispose(self) -> None:
        self.engine.dispose()


def hold_write_lock(session: Session) -> None:
    """What ``SELECT … FOR UPDATE`` does on PostgreSQL, for SQLite, which ignores it: take
    the database's write lock now (``BEGIN IMMEDIATE``), so that a second process about to
    make the same change waits for this transaction and then reads what it wrote, instead
    of reading the same "not done yet" and failing on a unique constraint later. A
    transaction that has written already holds the lock; on PostgreSQL this does nothing
    (the caller locks its rows)."""
    connection = session.connection()
    if connection.dialect.name != "sqlite":
        return
    raw = connection.connection.dbapi_connection
    if raw is not None and not raw.in_transaction:
        # pysqlite begins a transaction only before the first write; SELECTs before it
        # ran outside any transaction, so taking the lock here loses no earlier snapshot
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def open_read_database(url: str | None, main: Database, **engine_kwargs: Any) -> Database:
    """The database reports and counts read from: ``main`` when ``url`` is unset, else that
    database (a replica), whose schema must already be at the code's revision: it is never
    migrated from here, and a replica that has not caught up is refused with a message."""
    if not url:
        return main
    from newsletter import migrate

    reader = Database(make_engine(url, setting="NEWSLETTER_READ_DATABASE_URL", **engine_kwargs))
    shown = reader.engine.url.render_as_string(hide_password=True)
    try:
        with reader.engine.connect() as connection:
            current = migrate.current_revisions(connection)
    except DBAPIError as exc:  # cannot connect, or may not read alembic_version
        reader.dispose()
        raise ConfigurationError(f"cannot read the read database {shown}: {exc.orig}") from exc
    wanted = migrate.head_revisions()
    if current != wanted:
        reader.dispose()
        raise ConfigurationError(
            f"the read database {shown} is at revision {', '.join(sorted(current)) or 'none'} "
            f"but this version needs {', '.join(sorted(wanted))}: point "
            "NEWSLETTER_READ_DATABASE_URL at a replica of the main database once it has "
            "caught up, or unset it"
        )
    return reader


def open_database(url: str, *, upgrade: bool = True, **engine_kwargs: Any) -> Database:
    """Connect to ``url`` and (by default) bring its schema up to date."""
    database = Database(make_engine(url, **engine_kwargs))
    if upgrade:
        try:
            database.upgrade()
        except OperationalError as exc:
            database.dispose()
            raise ConfigurationError(
                f"cannot open the database {make_url(url).render_as_string(hide_password=True)}: "
                f"{exc.orig}"
            ) from exc
    return database
