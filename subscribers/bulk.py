"""Many-row inserts that stay fast on both databases (the CSV importer's write path).

Per-row parameters are the slow part of a big ``executemany``: on PostgreSQL SQLAlchemy
turns it into one ``INSERT … VALUES`` with 12,000 placeholders that the driver re-parses
for every batch, and on SQLite each row's values go one by one through the Python type
processors. So the whole batch travels as *one* JSON document, encoded at C speed, and the
database turns it back into rows itself: ``json_to_recordset`` on PostgreSQL, ``json_each``
with ``json_extract`` on SQLite. The statement text is the same for every batch.

Times are written the way each dialect's own type would write them (aware ISO text for
PostgreSQL; naive UTC ``YYYY-MM-DD HH:MM:SS.ffffff`` for SQLite, as :class:`UTCDateTime`
stores them), so rows inserted here read back exactly like rows inserted by the ORM.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping, Sequence
from datetime import UTC, datetime
from functools import lru_cache, partial
from typing import Any

import orjson
from psycopg import sql
from sqlalchemy import (
    JSON,
    ColumnElement,
    Connection,
    Row,
    Select,
    String,
    Table,
    Text,
    any_,
    bindparam,
    column,
    func,
    insert,
    literal,
    select,
    true,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import QueryableAttribute
from sqlalchemy.types import Integer, TypeEngine

_POSTGRES = postgresql.dialect()  # type: ignore[no-untyped-call]


def one_of(
    connection: Connection,
    target: ColumnElement[Any] | QueryableAttribute[Any],
    values: Collection[str] | Collection[int],
    item_type: TypeEngine[Any] | None = None,
) -> ColumnElement[bool]:
    """``target IN values`` with the values as one parameter (``= ANY(array)`` on PostgreSQL,
    ``IN (SELECT value FROM json_each(…))`` on SQLite): a thousand-item ``IN`` list costs
    more to compile, send and plan than to run. ``item_type``: the array's element type on
    PostgreSQL (default ``String``; ``BigInteger()`` for ids)."""
    if connection.dialect.name == "postgresql":
        array = ARRAY(item_type if item_type is not None else String())
        return target == any_(bindparam(None, list(values), type_=array))
    items = func.json_each(bindparam(None, json.dumps(list(values)), type_=Text))
    return target.in_(select(items.table_valued("value").c.value))


def insert_rows(
    connection: Connection,
    table: Table,
    rows: Sequence[Mapping[str, Any]],
    columns: Sequence[str],
    *,
    key: str | None = None,
    skip_conflicts: Sequence[str] = (),
    sparse: bool = False,
) -> dict[Any, int]:
    """Insert ``rows`` (mappings with every name in ``columns``) in one statement.
    ``sparse``: rows may leave out a column whose value is NULL (and have no other keys).

    With ``key`` (a unique column) returns ``{key value: id}`` of the new rows. With
    ``skip_conflicts`` (the columns of a unique constraint) rows that would violate it are
    left out (``ON CONFLICT … DO NOTHING``), and ``key`` names only rows inserted now.
    """
    if not rows:
        return {}
    postgres = connection.dialect.name == "postgresql"
    document = _document(rows if sparse else _only(rows, columns), postgres)
    conflict = tuple(skip_conflicts)
    statement = _insert_statement(table, tuple(columns), key, conflict, postgres)
    result = connection.execute(statement, {"rows": document})
    if key is None:
        return {}
    if postgres or conflict:
        return _as_dict(result)  # RETURNING
    keys = [row[key] for row in rows]
    found = connection.execute(
        select(table.c[key], table.c.id).where(one_of(connection, table.c[key], keys))
    )
    return _as_dict(found)


@lru_cache(maxsize=128)
def _insert_statement(
    table: Table,
    columns: tuple[str, ...],
    key: str | None,
    conflict: tuple[str, ...],
    postgres: bool,
) -> Any:
    """The ``INSERT … SELECT`` of :func:`insert_rows`, its document the ``rows`` parameter:
    built once per table and shape (building and keying a statement of twenty typed columns
    costs a quarter of a millisecond, and a webhook batch runs one per 1,000 events)."""
    source = _from_postgres(table, columns) if postgres else _from_sqlite(columns)
    if conflict:
        # SQLite reads "SELECT … ON CONFLICT" as a join constraint unless the SELECT has a WHERE.
        dialect_insert = pg_insert if postgres else sqlite_insert
        statement: Any = dialect_insert(table).from_select(
            list(columns), source if postgres else source.where(true())
        )
        statement = statement.on_conflict_do_nothing(index_elements=list(conflict))
    else:
        statement = insert(table).from_select(list(columns), source)
    if key is not None and (postgres or conflict):
        statement = statement.returning(table.c[key], table.c.id)
    return statement


def copy_rows(
    connection: Connection, table: Table, rows: Sequence[Mapping[str, Any]], columns: Sequence[str]
) -> None:
    """Insert ``rows`` that are all new (no conflict to skip, no ids wanted): ``COPY`` on
    PostgreSQL, which reads plain rows rather than one JSON document taken apart per field
    (the payloads of a webhook batch, 350 KB: about a third less time in the database);
    :func:`insert_rows` elsewhere. JSON columns go as orjson text, the stdlib's when orjson
    refuses a value."""
    if not rows:
        return
    if connection.dialect.name != "postgresql":
        insert_rows(connection, table, rows, columns)
        return
    as_json = [isinstance(table.c[name].type, JSON) for name in columns]
    statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
        sql.Identifier(*([table.schema] if table.schema else []), table.name),
        sql.SQL(", ").join(sql.Identifier(name) for name in columns),
    )
    driver: Any = connection.connection.dbapi_connection  # psycopg's, in this transaction
    with driver.cursor() as cursor, cursor.copy(statement) as copy:
        for row in rows:
            copy.write_row(
                [
                    _json_text(row[name]) if encode else row[name]
                    for name, encode in zip(columns, as_json, strict=True)
                ]
            )


def _json_text(value: Any) -> str | None:
    if value is None:
        return None
    try:
        return orjson.dumps(value).decode()
    except TypeError:  # beyond orjson (integers past 64 bits …): what the stdlib writes
        return json.dumps(value)


@lru_cache(maxsize=128)
def rows_source(table: Table, columns: tuple[str, ...], postgres: bool) -> Select[Any]:
    """Rows as a SELECT of ``columns`` (named so) typed like ``table``'s, decoded by the
    database from one JSON document as :func:`insert_rows` does, for statements of one's
    own: the document is the statement's ``rows`` parameter (:func:`rows_parameter`), so a
    statement built on it once serves every batch (cached: building and keying a statement
    each time cost a webhook batch more than running some of them)."""
    return _from_postgres(table, columns) if postgres else _from_sqlite(columns).where(true())


def rows_parameter(
    connection: Connection, rows: Sequence[Mapping[str, Any]], columns: Sequence[str]
) -> dict[str, str]:
    """The ``rows`` parameter of a statement on :func:`rows_source`: ``rows`` (mappings
    with every name in ``columns``) as one JSON document."""
    return {"rows": _document(_only(rows, columns), connection.dialect.name == "postgresql")}


def _only(rows: Sequence[Mapping[str, Any]], columns: Sequence[str]) -> list[Mapping[str, Any]]:
    """``rows`` with just ``columns``: a row that has exactly those keys goes as it is (a
    comparison of key sets at C speed; copying a thousand rows key by key does not)."""
    wanted = set(columns)
    return [row if row.keys() == wanted else {name: row[name] for name in columns} for row in rows]


def _from_postgres(
    table: Table,
    columns: Sequence[str],
    document: str | None = None,
    extra: Mapping[str, TypeEngine[Any]] | None = None,
) -> Select[Any]:
    """``json_to_recordset``, not ``jsonb_…``: it leaves each value as text until its field
    is converted, so a batch whose rows carry JSON documents of their own (tracking events)
    is not parsed into JSONB and back; 40 % less time per 1,000 events. ``extra`` columns
    (name → type) are read from the document too, though the table has no such column.
    Without ``document`` the statement takes it as its ``rows`` parameter."""
    typed = [column(name, _record_type(table, name)) for name in columns]
    typed += [column(name, kind) for name, kind in (extra or {}).items()]
    records = (
        func.json_to_recordset(_rows_parameter(document).cast(JSON))
        .table_valued(*typed)
        .render_derived(name="src", with_types=True)
    )
    return select(*(records.c[c.name] for c in typed))


def _rows_parameter(document: str | None) -> Any:
    """The ``rows`` document: a value of the statement, or (none given) its parameter."""
    if document is None:
        return bindparam("rows", type_=Text)
    return bindparam("rows", document, type_=Text)


def _from_sqlite(columns: Sequence[str]) -> Select[Any]:
    """``json_each`` over the ``rows`` parameter, each column named as in the document."""
    items = func.json_each(_rows_parameter(None)).table_valued("value")
    return select(*(func.json_extract(items.c.value, f"$.{name}").label(name) for name in columns))


def insert_with_import_consent(
    connection: Connection,
    subscribers: Table,
    consents: Table,
    rows: Sequence[Mapping[str, Any]],
    columns: Sequence[str],
    *,
    file: str,
    now: datetime,
) -> int:
    """PostgreSQL: insert subscriber rows and an ``import`` consent record for each (citing
    ``file`` and the row's ``line``) in one statement; returns how many were inserted.

    Writing the consent rows from the inserted ids on the server saves sending them and a
    second statement per batch (a noticeable share of an import's time)."""
    document = _document(
        [{**{name: row[name] for name in columns}, "line": row["line"]} for row in rows], True
    )
    source = _from_postgres(subscribers, columns, document, {"line": Integer()}).cte("src")
    new = (
        insert(subscribers)
        .from_select(list(columns), select(*(source.c[name] for name in columns)))
        .returning(subscribers.c.id, subscribers.c.email_key)
        .cte("new")
    )
    form = func.jsonb_build_object(
        "file", bindparam("file", file, type_=Text), "line", source.c.line
    )
    consent = insert(consents).from_select(
        ["subscriber_id", "kind", "at", "source", "form"],
        select(
            new.c.id,
            literal("import"),
            bindparam("now", now, type_=consents.c.at.type),
            source.c.source,
            form,
        ).select_from(new.join(source, new.c.email_key == source.c.email_key)),
    )
    statement = select(func.count()).select_from(new).add_cte(consent.cte("consent"))
    return int(connection.execute(statement).scalar_one())


def _record_type(table: Table, name: str) -> TypeEngine[Any]:
    column_type = table.c[name].type
    if isinstance(column_type, JSON):  # the column's own kind on PostgreSQL: json or jsonb
        variant = column_type.dialect_impl(_POSTGRES)
        return JSONB() if isinstance(variant, JSONB) else JSON()
    impl = getattr(column_type, "impl", None)  # TypeDecorators (UTCDateTime) by their SQL type
    return impl if isinstance(impl, TypeEngine) else column_type


def _as_dict(rows: Any) -> dict[Any, int]:
    """``{key: id}`` of a result; ``all()`` fetches in one call (iterating fetches row by
    row, which psycopg makes much slower for a thousand rows)."""
    found: dict[Any, int] = {}
    for row in rows.all():
        assert isinstance(row, Row)
        found[row[0]] = row[1]
    return found


def _document(items: Sequence[Mapping[str, Any]], postgres: bool) -> str:
    """The rows as one JSON text: ``orjson`` (much faster than ``json``, which was a large
    share of a webhook batch's time), the standard library for what orjson refuses (integers beyond
    64 bits, nesting deeper than 254 levels: odd provider events, kept as they came)."""
    default = partial(_json_value, postgres=postgres)
    try:
        return orjson.dumps(items, default=default, option=orjson.OPT_PASSTHROUGH_DATETIME).decode()
    except TypeError:  # orjson.JSONEncodeError is one
        return json.dumps(items, default=default)


def _json_value(value: object, *, postgres: bool) -> str:
    if isinstance(value, datetime):
        return _timestamp(value, postgres)
    raise TypeError(f"cannot send {type(value).__name__} in a bulk insert")


@lru_cache(maxsize=1024)
def _timestamp(value: datetime, postgres: bool) -> str:
    """A time as the dialect stores it (cached: a batch's rows mostly share one time)."""
    if value.tzinfo is None:
        raise ValueError(f"naive datetime {value!r}: store timezone-aware UTC times only")
    if postgres:
        return value.isoformat()
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
