"""The editor's subscriber search (subscribers.search) on SQLite and PostgreSQL: keyed pages
that end, a filtered page that looks through a bounded window of ids and says so, and
substrings taken literally (``%`` and ``_`` are no wildcards)."""

from __future__ import annotations

from sqlalchemy import update

from newsletter.db import Database
from subscribers.model import Subscriber
from subscribers.search import SubscriberQuery, search_subscribers
from subscribers.segment_store import context_for
from tests.campaigns.helpers import add_subscribers


def all_pages(db: Database, query: SubscriberQuery, *, limit: int, window: int) -> list[list[str]]:
    pages: list[list[str]] = []
    after: int | None = None
    with db.transaction() as session:
        ctx = context_for(session)
        while True:
            page = search_subscribers(session, query, ctx, after=after, limit=limit, window=window)
            pages.append([row.email or "" for row in page.rows])
            if page.next_after is None:
                return pages
            assert len(page.rows) == limit or page.looked_to == page.next_after
            after = page.next_after


def test_unfiltered_pages_are_full_until_the_last(db: Database) -> None:
    add_subscribers(db, 23)
    pages = all_pages(db, SubscriberQuery(), limit=10, window=5)  # no window without filter
    assert [len(page) for page in pages] == [10, 10, 3]
    assert pages[0][0] == "reader22@example.org" and pages[-1][-1] == "reader0@example.org"


def test_a_filtered_page_looks_through_a_window_and_goes_on(db: Database) -> None:
    add_subscribers(db, 40)
    with db.transaction() as session:
        session.execute(
            update(Subscriber)
            .where(Subscriber.email.in_([f"reader{n}@example.org" for n in (3, 17, 18, 39)]))
            .values(name="Ms 50%_off")
        )
    query = SubscriberQuery(text="50%_OFF")
    pages = all_pages(db, query, limit=2, window=10)
    found = [email for page in pages for email in page]
    assert found == [f"reader{n}@example.org" for n in (39, 18, 17, 3)]
    assert len(pages) >= 4  # windows of 10 ids: some pages come back short, and say so
    assert all_pages(db, SubscriberQuery(text="50x_off"), limit=2, window=100) == [[]]
