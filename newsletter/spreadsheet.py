"""Cells of the CSV files we write, made safe to open in a spreadsheet (CSV injection).

A spreadsheet runs a cell that starts with ``=``, ``+``, ``-`` or ``@`` (and, in some, a tab
or carriage return) as a formula, so text from readers (a name, an address, a link) could
run on an editor's machine. Such text goes out behind a ``'``, the spreadsheet convention
for "this is text", and :func:`from_text_cell` takes it off again on import.
"""

from __future__ import annotations

from typing import Any

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def as_text_cell(value: Any) -> Any:
    """``value`` with a leading ``'`` when it is text a spreadsheet would run."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def from_text_cell(text: str) -> str:
    """Undo :func:`as_text_cell` (a cell this module quoted, and only such a cell)."""
    return text[1:] if text.startswith("'") and text[1:].startswith(FORMULA_START) else text
