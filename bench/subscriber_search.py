"""What the editor's subscriber list costs on PostgreSQL at a million subscribers: prints
median times of one page for each kind of filter.

    .venv/bin/python bench/subscriber_search.py [--rows 1000000] [--repeat 5]

It creates a throw-away database next to ``$NEWSLETTER_TEST_POSTGRES_URL`` (dropped at the
end), fills it with ``generate_series`` (topics: one of five; 1 % unsubscribed; events for
1 % of readers), and times :func:`subscribers.search.search_subscribers` (50 rows, keyed by
id) for: no filter, the 1,000th page, a status, a topic, a common and a rare substring, a
segment rule, engagement in 30 days and "never"; and, for comparison, the per-status count
the page does not run (:func:`subscribers.directory.status_counts`) and what the segment
list runs per segment (:func:`subscribers.segment_store.count_members`).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script (make bench) as well as with -m
    sys.path.insert(0, str(ROOT))

from sqlalchemy import text  # noqa: E402

from bench.signup import ThrowAwayDatabase, admin_url  # noqa: E402
from campaigns.wiring import wire_extensions  # noqa: E402
from newsletter.db import open_database  # noqa: E402
from subscribers.directory import status_counts  # noqa: E402
from subscribers.search import SubscriberQuery, search_subscribers  # noqa: E402
from subscribers.segment_store import context_for, count_members  # noqa: E402
from subscribers.segments import parse_rule  # noqa: E402

FILL = """
INSERT INTO subscribers (uid, email, email_key, email_hash, name, status, topics, narratives,
                         attributes, source, created_at)
SELECT 'u' || n, 'reader' || n || '@example.org', 'reader' || n || '@example.org', md5(n::text),
       'Reader ' || n, CASE WHEN n % 100 = 0 THEN 'unsubscribed' ELSE 'active' END,
       jsonb_build_array((ARRAY['europe','climate','science','sport','tech'])[1 + n % 5]),
       'all', '{}', 'bench', now() - (n || ' seconds')::interval
FROM generate_series(1, :rows) AS n
"""
EVENTS = """
INSERT INTO events (source, event_id, type, occurred_at, subscriber_id, machine)
SELECT 2, 'e' || id, 6, now() - interval '3 days', id, false  -- first-party, opened (codes)
FROM subscribers WHERE id % 100 = 7
"""
# What ingest keeps of those events for the engagement rules (campaigns.engagement).
ENGAGEMENT = """
INSERT INTO subscriber_engagement (subscriber_id, last_opened_at)
SELECT id, now() - interval '3 days' FROM subscribers WHERE id % 100 = 7
"""


def timed(work: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--admin-url")
    args = parser.parse_args()
    wire_extensions()
    with ThrowAwayDatabase(admin_url(args.admin_url), prefix="bench_search") as scratch:
        db = open_database(scratch.url.render_as_string(hide_password=False))
        started = time.perf_counter()
        with db.engine.begin() as connection:
            connection.execute(text(FILL), {"rows": args.rows})
            connection.execute(text(EVENTS))
            connection.execute(text(ENGAGEMENT))
            connection.execute(text("ANALYZE"))
        print(f"{args.rows:,} subscribers filled in {time.perf_counter() - started:.0f} s")
        with db.transaction() as session:
            ctx = context_for(session)
            middle = args.rows - 50 * 1000

            def page(query: SubscriberQuery, after: int | None = None) -> Callable[[], object]:
                return lambda: search_subscribers(session, query, ctx, after=after)

            climate = parse_rule({"type": "topics", "any": ["climate"]})
            opened = parse_rule({"type": "opened", "within_days": 30})
            never = parse_rule({"type": "not", "rule": opened.model_dump(by_alias=True)})
            cases = {
                "no filter, first page": page(SubscriberQuery()),
                "no filter, 1,000th page (keyed)": page(SubscriberQuery(), after=middle),
                "status unsubscribed (1 %)": page(SubscriberQuery(status="unsubscribed")),
                "topic climate (20 %)": page(
                    SubscriberQuery(rules=(parse_rule({"type": "topics", "any": ["climate"]}),))
                ),
                "substring 'reader12' (common)": page(SubscriberQuery(text="reader12")),
                "substring 'nobody' (no match: whole scan)": page(SubscriberQuery(text="nobody")),
                "engaged in 30 days (1 %)": page(SubscriberQuery(rules=(opened,))),
                "never engaged (99 %)": page(SubscriberQuery(rules=(never,))),
                "status_counts (not run by the page)": lambda: status_counts(session),
                "a segment's counts (topics climate)": lambda: count_members(session, climate, ctx),
            }
            for name, work in cases.items():
                print(f"{name:45} {timed(work, args.repeat):8.1f} ms")
        db.dispose()


if __name__ == "__main__":
    main()
