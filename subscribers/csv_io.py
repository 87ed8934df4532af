"""CSV import and export of subscribers, streamed, with a line number for every bad row.

Import reads the file once, in batches: each batch is validated row by row (a bad row is
reported as ``FILE:LINE: why`` and left out), checked against existing addresses and the
suppression list in two queries, then inserted with one multi-row statement per table. The
whole file is one transaction: ``strict`` rolls it back if any row was bad, so either every
good row is in or (strict) nothing is.

Columns (header names, any order; only ``email`` is required)::

    email, name, topics (separated by ; , or |), narratives, source, created_at,
    status, confirmed_at (as ``export`` writes them), time_zone (an IANA name, e.g.
    Europe/Berlin; empty: the default zone), attr.NAME (custom attributes)

Imported people are ``pending`` unless ``confirmed`` is set (they opted in elsewhere);
a ``status`` column can only lower that: rows marked unsubscribed, bounced or complained
are skipped, never revived. No confirmation mail is queued for pending imports. Imported
readers get no welcome series unless ``welcome`` is set: then an active row's series starts
at its confirmed moment (``confirmed_at``, else ``created_at``, else the import's start).
"""

from __future__ import annotations

import csv
import itertools
import pickle
import queue
import re
import subprocess
import sys
import threading
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import islice
from typing import IO, TYPE_CHECKING, Any, NamedTuple, TextIO

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session

from newsletter.db import Database, utcnow
from newsletter.errors import InvalidInput, Problem
from newsletter.spreadsheet import as_text_cell, from_text_cell
from newsletter.untrusted import nul_problem
from newsletter.zones import clean_zone
from subscribers.addresses import parse_address
from subscribers.batch_insert import (
    SUBSCRIBER_COLUMNS,
    insert_with_consents,
    known_and_suppressed,
)
from subscribers.bulk import insert_with_import_consent
from subscribers.fields import (
    clean_attribute_key,
    clean_attributes,
    clean_name,
    clean_narratives,
    clean_source,
    clean_topics,
)
from subscribers.model import (
    STATUSES,
    ConsentRecord,
    Subscriber,
    new_uid,
    table_of,
)
from subscribers.signup import Origin, consent_values

if TYPE_CHECKING:
    from _csv import Reader

COLUMNS = (
    "email",
    "name",
    "topics",
    "narratives",
    "source",
    "created_at",
    "status",
    "confirmed_at",
    "time_zone",
)
EXPORT_COLUMNS = (
    "email",
    "name",
    "status",
    "topics",
    "narratives",
    "source",
    "created_at",
    "confirmed_at",
    "unsubscribed_at",
    "time_zone",
)
IGNORED_ON_IMPORT = ("unsubscribed_at",)
ATTRIBUTE_PREFIX = "attr."
TOPIC_SEPARATORS = re.compile(r"[;,|]")
BATCH = 1000


@dataclass(frozen=True, slots=True)
class ImportOptions:
    known_topics: Collection[str]
    confirmed: bool = False
    welcome: bool = False  # active rows' welcome series starts at their confirmed moment
    source: str | None = "import"
    strict: bool = False
    started: datetime = field(default_factory=utcnow)  # 'created' of rows without a date
    ascii_local_part: bool = True  # the provider cannot deliver to zoë@… (parse_address)

    def __post_init__(self) -> None:
        object.__setattr__(self, "source", clean_source(self.source, "--source"))


@dataclass
class ImportReport:
    """What an import did: rows imported, rows skipped (with why) and bad rows (with why)."""

    imported: int = 0
    skipped: list[Problem] = field(default_factory=list)
    errors: list[Problem] = field(default_factory=list)
    rolled_back: bool = False


class _Row(NamedTuple):
    """A valid row: its line in the file and the column values (a tuple: cheap to pickle)."""

    line: int
    values: dict[str, Any]


def import_csv(
    database: Database, stream: TextIO, *, source_name: str, options: ImportOptions
) -> ImportReport:
    """Import subscribers from CSV text; see the module docstring for columns and rules.

    Three things overlap on a big file: this thread reads the CSV, a second process
    validates it (address checks are most of the CPU time, and a process has its own GIL),
    and a writer thread inserts what came back while the database works. The session is
    handed to the writer, never shared: only it touches the session until it has finished.
    """
    reader = csv.reader(stream)
    header = _read_header(reader, source_name)
    report = ImportReport()
    seen: dict[str, int] = {}
    with database.sessions() as session, session.begin():
        writer = _BatchWriter(session, source_name, options, report)
        try:
            chunks = _chunks(_records(reader))
            for checked in _checked(chunks, header, source_name, options):
                report.errors.extend(checked.errors)
                report.skipped.extend(checked.skipped)
                batch: list[_Row] = []
                for row in checked.rows:
                    first = seen.setdefault(row.values["email_key"], row.line)
                    if first != row.line:
                        message = f"same address as line {first}: skipped"
                        report.skipped.append(Problem(source_name, row.line, message))
                    else:
                        batch.append(row)
                writer.put(batch)
        finally:
            writer.close()  # re-raises what the writer hit
        report.skipped.sort(key=_by_line)
        if options.strict and report.errors:
            session.rollback()
            report.rolled_back = True
            report.imported = 0
    return report


@dataclass
class _Checked:
    """One validated chunk: its good rows, its bad rows and the rows skipped on purpose."""

    rows: list[_Row] = field(default_factory=list)
    errors: list[Problem] = field(default_factory=list)
    skipped: list[Problem] = field(default_factory=list)


_Record = tuple[int, list[str] | str]  # (first line, cells or why the CSV is unreadable)


def _chunks(records: Iterator[_Record]) -> Iterator[list[_Record]]:
    while chunk := list(islice(records, BATCH)):
        yield chunk


def _checked(
    chunks: Iterator[list[_Record]], header: list[str], source_name: str, options: ImportOptions
) -> Iterator[_Checked]:
    """Each chunk validated, in order: by a worker process when the file is big enough to
    pay for starting one (more than two chunks), in this thread otherwise."""
    first = list(islice(chunks, 3))
    if len(first) < 3:
        for chunk in first:
            yield check_chunk(chunk, header, source_name, options)
        return
    worker = subprocess.Popen(
        [sys.executable, "-m", "subscribers.validation_worker"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    assert worker.stdin is not None and worker.stdout is not None
    sent = 0
    failure: list[BaseException] = []

    def feed(to_worker: IO[bytes]) -> None:
        nonlocal sent
        try:
            pickle.dump((header, source_name, options), to_worker)
            for chunk in itertools.chain(first, chunks):
                pickle.dump(chunk, to_worker)
                sent += 1
        except BaseException as exc:  # e.g. a broken pipe: reported below
            failure.append(exc)
        finally:
            to_worker.close()

    feeder = threading.Thread(target=feed, args=(worker.stdin,), name="csv-validate-feed")
    feeder.start()
    received = 0
    try:
        while True:
            try:
                result = pickle.load(worker.stdout)  # noqa: S301 (our own child, private pipe)
            except EOFError:
                break
            received += 1
            yield result
    finally:
        worker.stdout.close()
        feeder.join()
        worker.wait()
    if failure or worker.returncode != 0 or received != sent:
        raise RuntimeError(
            f"the CSV validation worker failed (exit {worker.returncode}, "
            f"{received} of {sent} chunks): {failure[0] if failure else 'see its stderr'}"
        )


def check_chunk(
    chunk: list[_Record], header: list[str], source_name: str, options: ImportOptions
) -> _Checked:
    """Validate one chunk of records (also what the worker process runs)."""
    checked = _Checked()
    for line, record in chunk:
        row = _validate(record, header, line, source_name, options, checked)
        if row is not None:
            checked.rows.append(row)
    return checked


def _by_line(problem: Problem) -> int:
    return problem.line or 0


class _BatchWriter:
    """A thread that inserts the batches put to it, in order, on the session it was given."""

    def __init__(
        self, session: Session, source_name: str, options: ImportOptions, report: ImportReport
    ) -> None:
        self._queue: queue.Queue[list[_Row] | None] = queue.Queue(maxsize=2)
        self._failure: BaseException | None = None
        self._args = (session, source_name, options, report)
        self._thread = threading.Thread(target=self._run, name="csv-import-writer", daemon=True)
        self._thread.start()

    def put(self, batch: list[_Row]) -> None:
        if self._failure is not None:
            raise self._failure
        if batch:
            self._queue.put(batch)

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join()
        if self._failure is not None:
            raise self._failure

    def _run(self) -> None:
        while (batch := self._queue.get()) is not None:
            if self._failure is not None:
                continue  # drain the queue so the reader is never blocked
            try:
                _insert(batch, *self._args)
            except BaseException as exc:
                self._failure = exc


def _read_header(reader: Reader, source_name: str) -> list[str]:
    try:
        header = [name.strip().lower() for name in next(reader)]
    except StopIteration:
        raise InvalidInput(source_name, "the file is empty (it needs a header row)") from None
    except csv.Error as exc:
        raise InvalidInput(f"{source_name}:1", f"not readable as CSV: {exc}") from None
    if "email" not in header:
        raise InvalidInput(f"{source_name}:1", "the header has no 'email' column")
    for name in header:
        if name.startswith(ATTRIBUTE_PREFIX):
            clean_attribute_key(name.removeprefix(ATTRIBUTE_PREFIX), f"{source_name}:1")
        elif name not in COLUMNS and name not in IGNORED_ON_IMPORT:
            known = ", ".join((*COLUMNS, ATTRIBUTE_PREFIX + "NAME"))
            raise InvalidInput(f"{source_name}:1", f"unknown column {name!r} (known: {known})")
    if len(set(header)) != len(header):
        raise InvalidInput(f"{source_name}:1", "a column name appears twice")
    return header


def _records(reader: Reader) -> Iterator[_Record]:
    """Each record with the line it starts on (a quoted field may span several lines)."""
    line = 2
    while True:
        try:
            record: list[str] | str = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            record = f"not readable as CSV: {exc}"
        yield line, record
        line = reader.line_num + 1


def _validate(
    record: list[str] | str,
    header: list[str],
    line: int,
    source_name: str,
    options: ImportOptions,
    report: _Checked,
) -> _Row | None:
    if isinstance(record, str):
        report.errors.append(Problem(source_name, line, record))
        return None
    if not any(cell.strip() for cell in record):
        return None  # blank line
    if len(record) != len(header):
        report.errors.append(
            Problem(source_name, line, f"{len(record)} fields, the header has {len(header)}")
        )
        return None
    if any("\x00" in cell for cell in record):
        report.errors.append(Problem(source_name, line, _nul_cell(record, header)))
        return None
    cells = dict(zip(header, record, strict=True))
    try:
        values = _row_values(cells, options)
    except InvalidInput as exc:
        report.errors.append(Problem(source_name, line, str(exc)))
        return None
    if values is None:
        report.skipped.append(
            Problem(source_name, line, f"status {cells['status'].strip()}: not imported")
        )
        return None
    return _Row(line, values)


def _nul_cell(record: list[str], header: list[str]) -> str:
    """Where the first NUL of a record is: ``column N (name): …`` (one rule for both DBs)."""
    column, problem = next(
        (i, found) for i, cell in enumerate(record) if (found := nul_problem(cell)) is not None
    )
    return f"column {column + 1} ({header[column]}): {problem}"


def _row_values(cells: Mapping[str, str], options: ImportOptions) -> dict[str, Any] | None:
    cells = {name: from_text_cell(cell) for name, cell in cells.items()}  # our own exports
    address = parse_address(cells["email"], ascii_local_part=options.ascii_local_part)
    status = "active" if options.confirmed else "pending"
    given_status = cells.get("status", "").strip().lower()
    if given_status:
        if given_status not in STATUSES:
            raise InvalidInput("status", f"must be one of {', '.join(STATUSES)}")
        if given_status not in ("pending", "active"):
            return None
        if given_status == "pending":
            status = "pending"
    created = _timestamp(cells.get("created_at"), "created_at", options.started)
    created = created or options.started
    confirmed_at = _timestamp(cells.get("confirmed_at"), "confirmed_at", options.started)
    confirmed_at = (confirmed_at or created) if status == "active" else None
    attributes = clean_attributes(
        {
            name.removeprefix(ATTRIBUTE_PREFIX): cell
            for name, cell in cells.items()
            if name.startswith(ATTRIBUTE_PREFIX)
        },
        ATTRIBUTE_PREFIX,
    )
    return {
        "uid": new_uid(),
        "email": address.email,
        "email_key": address.key,
        "email_hash": address.digest,
        "name": clean_name(cells.get("name", "")),
        "status": status,
        "topics": clean_topics(
            TOPIC_SEPARATORS.split(cells.get("topics", "")), options.known_topics
        ),
        "narratives": clean_narratives(cells.get("narratives", "").strip()),
        "attributes": attributes,
        "source": clean_source(cells.get("source")) or options.source,
        "created_at": created,
        "confirmed_at": confirmed_at,
        "welcome_from": confirmed_at if options.welcome else None,
        "time_zone": clean_zone(cells.get("time_zone")),
    }


def _timestamp(value: str | None, field_name: str, now: datetime) -> datetime | None:
    if value is None or not value.strip():
        return None
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise InvalidInput(field_name, f"{value!r} is not an ISO date or time") from None
    parsed = parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    if parsed > now:
        raise InvalidInput(field_name, f"{value!r} is in the future")
    return parsed


def _insert(
    batch: list[_Row],
    session: Session,
    source_name: str,
    options: ImportOptions,
    report: ImportReport,
) -> None:
    if not batch or (options.strict and report.errors):
        return  # strict and already failed: keep validating, stop writing
    connection = session.connection()
    existing, suppressed = known_and_suppressed(connection, [row.values for row in batch])
    fresh: list[_Row] = []
    for row in batch:
        if row.values["email_hash"] in suppressed:
            reason = "on the suppression list (erased, bounced or complained): skipped"
        elif row.values["email_key"] in existing:
            reason = "already a subscriber: skipped"
        else:
            fresh.append(row)
            continue
        report.skipped.append(Problem(source_name, row.line, reason))
    if not fresh:
        return
    if connection.dialect.name == "postgresql":
        rows = [{**row.values, "line": row.line} for row in fresh]
        report.imported += insert_with_import_consent(
            connection,
            table_of(Subscriber),
            table_of(ConsentRecord),
            rows,
            SUBSCRIBER_COLUMNS,
            file=source_name,
            now=options.started,
        )
        return

    def consent_of(index: int, subscriber_id: int) -> dict[str, Any]:
        row = fresh[index]
        form = {"file": source_name, "line": row.line}
        origin = Origin(source=row.values["source"])
        return consent_values(subscriber_id, "import", origin, form, options.started)

    written = insert_with_consents(connection, [row.values for row in fresh], consent_of)
    report.imported += len(written)
    for row in fresh:
        if row.values["email_key"] not in written:  # added by someone else meanwhile
            report.skipped.append(Problem(source_name, row.line, "already a subscriber: skipped"))


def export_csv(session: Session, out: TextIO, *, status: str | None = None) -> int:
    """Write subscribers (those with an address) as CSV; returns how many rows were written."""
    condition: ColumnElement[bool] = Subscriber.email.is_not(None)
    if status is not None:
        if status not in STATUSES:
            raise InvalidInput("status", f"must be one of {', '.join(STATUSES)}")
        condition = condition & (Subscriber.status == status)
    keys: set[str] = set()
    for attributes in session.scalars(
        select(Subscriber.attributes).where(condition).execution_options(yield_per=2000)
    ):
        keys.update(attributes or {})
    attribute_keys = sorted(keys)
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([*EXPORT_COLUMNS, *(ATTRIBUTE_PREFIX + key for key in attribute_keys)])
    count = 0
    rows = session.scalars(
        select(Subscriber)
        .where(condition)
        .order_by(Subscriber.id)
        .execution_options(yield_per=2000)
    )
    for subscriber in rows:
        cells = [
            subscriber.email,
            _cell(subscriber.name),
            subscriber.status,
            ";".join(subscriber.topics),
            subscriber.narratives,
            subscriber.source or "",
            _iso(subscriber.created_at),
            _iso(subscriber.confirmed_at),
            _iso(subscriber.unsubscribed_at),
            subscriber.time_zone or "",
            *(_cell(subscriber.attributes.get(key)) for key in attribute_keys),
        ]
        writer.writerow([as_text_cell(cell) for cell in cells])  # every column, email too
        count += 1
    return count


def _iso(value: datetime | None) -> str:
    return value.isoformat() if value is not None else ""


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
