"""What counting segments costs on PostgreSQL at a million subscribers and ten million events:
prints the median time of :func:`subscribers.segment_store.count_members` (what the segment
list and `newsletter segments list` run per segment: matching and mailable now) for each
kind of rule, engagement included; beside it the two ``COUNT``s it ran before, and for
reference "opened in 30 days" answered from the events, as the rule did before
`subscriber_engagement`. Some addresses are suppressed, so "mailable" has work to do.

    .venv/bin/python bench/segments.py [--rows 1000000] [--events 10000000] [--repeat 3]
    .venv/bin/python bench/segments.py --freeze     # and the freeze with/without engagement rules

With ``--freeze`` it then freezes a three-brief campaign for the whole list twice over,
interleaved: once with the segments "source podcast" then "everyone", once with "opened in
30 days" then "everyone" (the first matching segment deciding each reader's variant; both
first segments take readers of every choice, so both freezes compile as many variants), and
prints each freeze's time and the ratio of the medians; the delivery rows are truncated
between freezes so every freeze inserts into an empty table.

It creates a throw-away database next to ``$NEWSLETTER_TEST_POSTGRES_URL`` (dropped at the
end) and fills it with ``generate_series``: topics one of five, 1 % unsubscribed, signups
over two years; events over 400 days (delivered, opened, clicked, 1 in 10 a machine open);
each reader's last open and click as ingest keeps them (a third of readers opened, a tenth
clicked, at times spread over 400 days).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script as well as with -m
    sys.path.insert(0, str(ROOT))

from sqlalchemy import func, select, text  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from bench.send import POSTAL_ADDRESS, PUBLIC_URL, SECRET, SLUGS  # noqa: E402
from bench.signup import ThrowAwayDatabase, admin_url  # noqa: E402
from bench.subscriber_search import timed  # noqa: E402
from campaigns.freeze import freeze_campaign  # noqa: E402
from campaigns.service import CampaignDraft, create_campaign  # noqa: E402
from campaigns.wiring import wire_extensions  # noqa: E402
from newsletter.briefs.importer import import_briefs  # noqa: E402
from newsletter.config import Settings  # noqa: E402
from newsletter.db import Database, open_database  # noqa: E402
from subscribers.model import Subscriber  # noqa: E402
from subscribers.segment_store import context_for, count_members, create_segment  # noqa: E402
from subscribers.segments import Rule, RuleContext, parse_rule  # noqa: E402
from subscribers.suppression import mailable  # noqa: E402

SUBSCRIBERS = """
INSERT INTO subscribers (uid, email, email_key, email_hash, name, status, topics, narratives,
                         attributes, source, created_at)
SELECT 'u' || n, 'reader' || n || '@example.org', 'reader' || n || '@example.org', md5(n::text),
       'Reader ' || n, CASE WHEN n % 100 = 0 THEN 'unsubscribed' ELSE 'active' END,
       jsonb_build_array((ARRAY['europe','climate','science','sport','tech'])[1 + n % 5]),
       (ARRAY['all','all','facts-only','no-forecast'])[1 + n % 4],
       jsonb_build_object('plan', CASE WHEN n % 10 = 0 THEN 'paid' ELSE 'free' END),
       CASE WHEN n % 7 = 0 THEN 'podcast' ELSE 'web' END,
       now() - ((n % 730) || ' days')::interval
FROM generate_series(1, :rows) AS n
"""
EVENTS = """
INSERT INTO events (source, event_id, type, occurred_at, campaign_id, subscriber_id, machine)
SELECT 1, 'e' || i, (ARRAY[2, 6, 6, 7])[1 + i % 4],  -- sendgrid; delivered, opened, clicked
       now() - ((i % 400) || ' days')::interval, i % 50, 1 + (i::bigint * 7919) % :rows,
       i % 10 = 3
FROM generate_series(1, :events) AS i
"""
ENGAGEMENT = """
INSERT INTO subscriber_engagement (subscriber_id, last_opened_at, last_clicked_at)
SELECT id, now() - ((id * 31 % 400) || ' days')::interval,
       CASE WHEN id % 10 = 0 THEN now() - ((id * 17 % 400) || ' days')::interval END
FROM subscribers WHERE id % 3 = 0
"""
SUPPRESSIONS = """
INSERT INTO suppressions (email_hash, reason, at)
SELECT email_hash, 'bounced', now() FROM subscribers WHERE id % 50 = 1
"""
# "Opened in the last 30 days" as the rule asked it of the events before subscriber_engagement.
FROM_EVENTS = """
SELECT count(*) FROM subscribers WHERE EXISTS (
  SELECT 1 FROM events WHERE events.subscriber_id = subscribers.id
  AND events.occurred_at >= now() - interval '30 days'
  AND events.type IN (6, 7) AND NOT events.machine)  -- opened, clicked (campaigns.events codes)
"""
OPENED_30 = {"type": "opened", "within_days": 30}
RULES: dict[str, dict[str, object]] = {
    "everyone": {"type": "everyone"},
    "status active": {"type": "status", "in": ["active"]},
    "topics climate": {"type": "topics", "any": ["climate"]},
    "topics climate or tech": {"type": "topics", "any": ["climate", "tech"]},
    "narratives facts-only": {"type": "narratives", "in": ["facts-only"]},
    "source podcast": {"type": "source", "in": ["podcast"]},
    "signed up in 30 days": {"type": "created", "within_days": 30},
    "attribute plan = paid": {"type": "attribute", "key": "plan", "equals": "paid"},
    "opened in 30 days": OPENED_30,
    "not opened in 90 days": {"type": "not", "rule": {"type": "opened", "within_days": 90}},
    "clicked in 60 days": {"type": "clicked", "within_days": 60},
    "climate and opened in 30 days": {
        "type": "all",
        "rules": [{"type": "topics", "any": ["climate"]}, OPENED_30],
    },
    "podcast or clicked in 30 days": {
        "type": "any",
        "rules": [{"type": "source", "in": ["podcast"]}, {"type": "clicked", "within_days": 30}],
    },
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--admin-url")
    parser.add_argument(
        "--freeze", action="store_true", help="also time freezes with/without engagement rules"
    )
    args = parser.parse_args()
    wire_extensions()
    with ThrowAwayDatabase(admin_url(args.admin_url), prefix="bench_segments") as scratch:
        db = open_database(scratch.url.render_as_string(hide_password=False))
        started = time.perf_counter()
        with db.engine.begin() as connection:
            connection.execute(text(SUBSCRIBERS), {"rows": args.rows})
            connection.execute(text(EVENTS), {"rows": args.rows, "events": args.events})
            connection.execute(text(ENGAGEMENT))
            connection.execute(text(SUPPRESSIONS))
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text("VACUUM ANALYZE"))
        took = time.perf_counter() - started
        print(f"{args.rows:,} subscribers and {args.events:,} events filled in {took:.0f} s")
        totals = [0.0, 0.0]
        print(f"{'segment':32} {'one pass':>10} {'two COUNTs':>11}  matching")
        with db.transaction() as session:
            ctx = context_for(session)
            for name, rule in RULES.items():
                parsed = parse_rule(rule)
                count = count_members(session, parsed, ctx)
                assert two_counts(session, parsed, ctx) == (count.matching, count.mailable)
                ms = [
                    timed(lambda p=parsed: count_members(session, p, ctx), args.repeat),
                    timed(lambda p=parsed: two_counts(session, p, ctx), args.repeat),
                ]
                totals = [a + b for a, b in zip(totals, ms, strict=True)]
                print(f"{name:32} {ms[0]:7.1f} ms {ms[1]:8.1f} ms  {count.matching:,}")
            everything = f"all {len(RULES)} segments"
            print(f"{everything:32} {totals[0]:7.1f} ms {totals[1]:8.1f} ms")
            old = timed(lambda: session.execute(text(FROM_EVENTS)).scalar(), args.repeat)
            print(
                f"{'opened in 30 days, from events':32} {old:7.1f} ms  (one COUNT, the rule before)"
            )
        if args.freeze:
            freeze_figures(db, scratch.url.render_as_string(hide_password=False), args.repeat)
        db.dispose()


# The first segments differ only in the kind of rule: each takes readers of every
# (narratives, topics) combination, so both freezes compile the same number of variants (a
# topic rule would take one topic's readers and need fewer: the comparison would then time
# the compiler, not the rule).
FREEZE_SEGMENTS = {
    "without engagement rules": ("source podcast", "everyone"),
    "with an engagement rule": ("opened in 30 days", "everyone"),
}


def freeze_figures(db: Database, url: str, repeat: int) -> None:
    """Freeze times of a whole-list campaign whose first segment is a topic rule or an
    engagement rule (issue 17: the second within 20 % of the first)."""
    import_briefs(db, [ROOT / "examples" / "briefs"], mark_ready=True)
    with db.transaction() as session:
        for name in {name for pair in FREEZE_SEGMENTS.values() for name in pair}:
            create_segment(session, name, RULES[name])
    settings = Settings(
        database_url=url, secret_key=SECRET, public_url=PUBLIC_URL, postal_address=POSTAL_ADDRESS
    )
    times: dict[str, list[float]] = {label: [] for label in FREEZE_SEGMENTS}
    variants: dict[str, int] = {}
    for run in range(repeat):
        for label, segments in FREEZE_SEGMENTS.items():
            with db.transaction() as session:
                draft = CampaignDraft(f"{label} {run}", SLUGS, segment_names=segments)
                campaign_id = create_campaign(session, draft).id
            started = time.perf_counter()
            result = freeze_campaign(db, campaign_id, settings)
            times[label].append(time.perf_counter() - started)
            variants[label] = len(result.variants)
            with db.engine.begin() as connection:
                connection.execute(text("TRUNCATE deliveries CASCADE"))
                connection.execute(
                    text("UPDATE campaigns SET status = 'cancelled' WHERE id = :id"),
                    {"id": campaign_id},
                )
            with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
                c.execute(text("VACUUM ANALYZE deliveries"))
    print(f"freeze of {result.recipients:,} recipients:")
    for label, runs in times.items():
        print(
            f"  {label:28} {variants[label]:3} variants: " + ", ".join(f"{t:.1f} s" for t in runs)
        )
    ratio = statistics.median(times["with an engagement rule"]) / statistics.median(
        times["without engagement rules"]
    )
    print(f"  with / without (medians): {ratio:.2f}")


def two_counts(session: Session, rule: Rule, ctx: RuleContext) -> tuple[int, int]:
    """The counts as ``count_members`` took them before: two ``COUNT``s, the second with
    :func:`subscribers.suppression.mailable` (its ``NOT EXISTS`` per row)."""
    condition = rule.compile(ctx)
    matching = session.scalar(select(func.count()).select_from(Subscriber).where(condition))
    reachable = session.scalar(
        select(func.count()).select_from(Subscriber).where(condition, mailable())
    )
    return matching or 0, reachable or 0


if __name__ == "__main__":
    main()
