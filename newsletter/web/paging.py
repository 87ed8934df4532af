"""Pages of a listing in the JSON APIs: the ``page``/``per_page`` query and the ``Link`` header.

A listing answers one bounded page (newest first), never the whole history: a newsroom with
years of campaigns or thousands of briefs gets the same response time on its first page as
on its first day. The next page is announced the way GitHub's API does it (RFC 8288
``Link: <…>; rel="next"``), so the JSON body stays the plain list it always was.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, TypeVar

from fastapi import Query, Request, Response

Item = TypeVar("Item")

DEFAULT_PER_PAGE = 100
MOST_PER_PAGE = 500


@dataclass(frozen=True)
class PageQuery:
    """Which page of a listing a request asks for (``page`` counts from 1)."""

    page: int
    per_page: int


def page_query(
    page: Annotated[int, Query(ge=1, le=1_000_000, description="Page number, from 1.")] = 1,
    per_page: Annotated[
        int, Query(ge=1, le=MOST_PER_PAGE, description="Items per page (at most 500).")
    ] = DEFAULT_PER_PAGE,
) -> PageQuery:
    return PageQuery(page=page, per_page=per_page)


def answer_page(
    request: Request, response: Response, asked: PageQuery, found: tuple[list[Item], bool]
) -> list[Item]:
    """The page's items; when more follow, a ``Link`` header points to the next page."""
    items, more = found
    if more:
        following = request.url.include_query_params(page=asked.page + 1, per_page=asked.per_page)
        response.headers["Link"] = f'<{following}>; rel="next"'
    return items
