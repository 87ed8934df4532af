"""Page numbers of the editor's long lists (``?page=N``, newest first, 25 to a page).

A list shows one page and links to the next and previous ones; its queries fetch one row
more than a page to know whether there is a next. A page number that is not a whole number
from 1 to :data:`MAX_PAGE` is a 400 that says so.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Query
from starlette.exceptions import HTTPException

from newsletter.web.editor.segment_rules import whole_number

PAGE_SIZE = 25
MAX_PAGE = 100_000
PageQuery = Annotated[str, Query(max_length=10)]


def page_number(text: str) -> int:
    """The ``page`` query parameter as a number, or a 400 naming what fits."""
    number = whole_number(text.strip(), max_digits=6)
    if number is None or not 1 <= number <= MAX_PAGE:
        raise HTTPException(400, f"page must be a whole number from 1 to {MAX_PAGE}.")
    return number
