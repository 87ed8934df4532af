"""How every `list` command prints its rows: a table for people, or JSON or CSV for scripts.

A command builds plain rows (dicts of JSON-friendly values, datetimes allowed) and names its
:class:`Column`s once; :func:`print_listing` does the rest, so the formats agree everywhere:

- ``table``: identifier columns (slugs, ids, addresses) are never cut or wrapped. Piped
  output is as wide as the rows need (one row per line, for ``grep`` and ``cut``); in a
  terminal the table fits the window unless the identifiers need more.
- ``json``: a list of objects whose keys are the columns' keys, in order, whatever the table
  shows: lists stay lists, times are ISO 8601, missing values ``null``.
- ``csv``: a header row of the keys, then the rows; lists joined with ``;`` (as the
  subscriber CSV does), and text a spreadsheet would run as a formula quoted
  (:mod:`newsletter.spreadsheet`).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from newsletter.cli.common import console
from newsletter.spreadsheet import as_text_cell

UNLIMITED = 1_000_000  # a width no table reaches: to measure a table's natural width


class ListFormat(StrEnum):
    table = "table"
    json = "json"
    csv = "csv"


ListFormatOption = Annotated[
    ListFormat, typer.Option("--format", "-f", help="table (for people), json or csv.")
]


@dataclass(frozen=True)
class Column:
    """One column: its key in JSON and CSV, its heading and how the table shows a value."""

    key: str
    heading: str | None = None  # the table's heading (default: the key)
    identifier: bool = False  # shown whole: never cut, never wrapped
    shown: Callable[[Any], str] | None = None  # the table's text (default: table_text)


def print_listing(
    rows: Sequence[Mapping[str, Any]],
    columns: Sequence[Column],
    fmt: ListFormat,
    *,
    empty: str,
    out: Console = console,
) -> None:
    """Print ``rows`` in ``fmt``; a table of no rows is the ``empty`` sentence instead."""
    if fmt is ListFormat.json:
        objects = [{c.key: row.get(c.key) for c in columns} for row in rows]
        typer.echo(json.dumps(objects, indent=2, ensure_ascii=False, default=_json_value))
    elif fmt is ListFormat.csv:
        typer.echo(csv_text(rows, columns), nl=False)
    elif rows:
        _print_table(rows, columns, out)
    else:
        out.print(empty, markup=False, soft_wrap=True)


def csv_text(rows: Sequence[Mapping[str, Any]], columns: Sequence[Column]) -> str:
    """The rows as CSV with a header row of the column keys."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([c.key for c in columns])
    for row in rows:
        writer.writerow([as_text_cell(_csv_value(row.get(c.key))) for c in columns])
    return buffer.getvalue()


def table_text(value: Any) -> str:
    """How a table cell shows a value unless its column says otherwise."""
    return _as_text(value, joiner=", ", booleans=("yes", "no"))


def _csv_value(value: Any) -> str:
    return _as_text(value, joiner=";", booleans=("true", "false"))


def _as_text(value: Any, *, joiner: str, booleans: tuple[str, str]) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return booleans[0] if value else booleans[1]
    if isinstance(value, list | tuple):
        return joiner.join(str(item) for item in value)
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _print_table(
    rows: Sequence[Mapping[str, Any]], columns: Sequence[Column], out: Console
) -> None:
    table = Table()
    for column in columns:
        table.add_column(column.heading or column.key, no_wrap=column.identifier)
    for row in rows:
        table.add_row(*(Text((c.shown or table_text)(row.get(c.key))) for c in columns))
    natural = out.measure(table, options=out.options.update_width(UNLIMITED))
    # Piped: one row per line. In a terminal: the window, or what keeps identifiers whole.
    width = max(out.width, natural.maximum if not out.is_terminal else natural.minimum)
    if width == out.width:
        out.print(table)
        return
    Console(
        file=out.file,
        width=width,
        highlight=False,
        force_terminal=out.is_terminal,
        color_system=out.color_system,  # type: ignore[arg-type]
    ).print(table)


def _json_value(value: Any) -> Any:
    if isinstance(value, date):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")
