"""What one scheduler round of the welcome series costs at a million subscribers, PostgreSQL.

    .venv/bin/python bench/welcome.py [--rows 1000000] [--due 1000] [--runs 5]

It creates a throw-away database next to ``$NEWSLETTER_TEST_POSTGRES_URL`` (dropped at the
end), fills it with ``generate_series``: ``--rows`` readers confirmed over two years (one
every 63 s, so about 9,600 in any week; 1 % unsubscribed, 1 in 50 addresses suppressed),
and a three-step series (day 0, day 3, day 7). A first round then queues everyone the series
is due to (and freezes each step's campaign, once). After that, at one fixed moment, runs
alternate:

(a) a round in which nobody is due: what every scheduler tick costs, forever;
(b) a round after ``--due`` newly confirmed readers are due step 1 and as many older ones
    (their step 1 already queued) step 2: receipts and delivery rows appended.

It prints the median time of each (wall, and CPU of this process and of its PostgreSQL
backend, read from /proc), the append cost per due reader ((b) - (a) over the due readers),
and the plan of (a)'s "is anybody due?" query per step (``EXPLAIN ANALYZE``).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script as well as with -m
    sys.path.insert(0, str(ROOT))

from sqlalchemy import exists, select, text  # noqa: E402

from bench.send import POSTAL_ADDRESS, PUBLIC_URL, SECRET  # noqa: E402
from bench.signup import ThrowAwayDatabase, admin_url  # noqa: E402
from bench.webhook import backend_pids, cpu_seconds  # noqa: E402
from campaigns.welcome_model import WelcomeReceipt, WelcomeStep  # noqa: E402
from campaigns.welcome_queue import LATE_LIMIT, queue_due_steps  # noqa: E402
from campaigns.welcome_steps import StepText, add_step  # noqa: E402
from campaigns.wiring import wire_extensions  # noqa: E402
from newsletter.config import Settings  # noqa: E402
from newsletter.db import Database, open_database, utcnow  # noqa: E402
from subscribers.model import Subscriber  # noqa: E402
from subscribers.suppression import mailable  # noqa: E402

READERS = """
INSERT INTO subscribers (uid, email, email_key, email_hash, name, status, topics, narratives,
                         attributes, source, created_at, confirmed_at, welcome_from)
SELECT 'u' || n, 'reader' || n || '@example.org', 'reader' || n || '@example.org', md5(n::text),
       'Reader ' || n, CASE WHEN n % 100 = 0 THEN 'unsubscribed' ELSE 'active' END,
       '[]'::jsonb, 'all', '{}'::jsonb, 'web',
       CAST(:at AS timestamp) - n * interval '63 seconds',
       CAST(:at AS timestamp) - n * interval '63 seconds',
       CAST(:at AS timestamp) - n * interval '63 seconds'
FROM generate_series(1, :rows) AS n
"""
SUPPRESSIONS = """
INSERT INTO suppressions (email_hash, reason, at)
SELECT email_hash, 'bounced', now() FROM subscribers WHERE id % 50 = 1
"""
# Readers who confirmed just now (due step 1) or three days and an hour ago (due step 2).
NEWCOMERS = """
INSERT INTO subscribers (uid, email, email_key, email_hash, name, status, topics, narratives,
                         attributes, source, created_at, confirmed_at, welcome_from)
SELECT 'n' || :tag || '-' || n, 'new' || :tag || '-' || n || '@example.org',
       'new' || :tag || '-' || n || '@example.org', md5(:tag || '-' || n),
       NULL, 'active', '[]'::jsonb, 'all', '{}'::jsonb, 'web', CAST(:at AS timestamp),
       CAST(:at AS timestamp), CAST(:at AS timestamp)
FROM generate_series(1, :count) AS n
"""
# The step-1 receipts of the readers who are due step 2 (queued three days ago).
OLD_RECEIPTS = """
INSERT INTO welcome_receipts (subscriber_id, step_id, campaign_id, queued_at)
SELECT s.id, :step, :campaign, CAST(:at AS timestamp)
FROM subscribers s WHERE s.uid LIKE 'n' || :tag || '-%'
"""
STEPS = ((0, "Welcome to {newsletter}"), (3, "Three days in"), (7, "A week with us"))


def round_cost(
    scratch: ThrowAwayDatabase, database: Database, settings: Settings, now: datetime
) -> tuple[float, float, int]:
    """One round at ``now``: wall seconds, CPU seconds (this process and the database's
    backends: the pool keeps its connections, so the round's backend is among them), readers."""
    pids = backend_pids(scratch)
    cpu_before = cpu_seconds(pids) or {}
    process = time.process_time()
    started = time.perf_counter()
    queued = queue_due_steps(database, settings, now)
    wall = time.perf_counter() - started
    cpu_after = cpu_seconds(pids) or {}
    backend = sum(cpu_after.get(pid, 0.0) - cpu_before.get(pid, 0.0) for pid in cpu_after)
    return wall, time.process_time() - process + backend, sum(q.readers for q in queued)


def add_newcomers(database: Database, now: datetime, run: int, due: int) -> None:
    """``due`` readers due step 1 and ``due`` due step 2 (step 1 already theirs)."""
    with database.engine.begin() as connection:
        connection.execute(text(NEWCOMERS), {"tag": f"a{run}", "count": due, "at": now})
        earlier = now - timedelta(days=3, hours=1)
        connection.execute(text(NEWCOMERS), {"tag": f"b{run}", "count": due, "at": earlier})
        step, campaign = connection.execute(
            text(
                "SELECT s.id, c.campaign_id FROM welcome_steps s JOIN welcome_campaigns c "
                "ON c.step_id = s.id AND c.version = s.version ORDER BY s.position LIMIT 1"
            )
        ).one()
        connection.execute(
            text(OLD_RECEIPTS),
            {"tag": f"b{run}", "step": step, "campaign": campaign, "at": earlier},
        )
        connection.execute(text("ANALYZE subscribers"))


def explain_idle(database: Database, now: datetime) -> None:
    """The plan of each step's "is anybody due?" query, as :mod:`campaigns.welcome_queue`
    builds it, when nobody is due."""
    with database.transaction() as session:
        steps = list(session.execute(select(WelcomeStep.id, WelcomeStep.delay_days)))
        for step_id, delay in steps:
            due_by = now - timedelta(days=delay)
            query = select(
                exists().where(
                    Subscriber.welcome_from.is_not(None),
                    Subscriber.welcome_from <= due_by,
                    Subscriber.welcome_from > due_by - LATE_LIMIT,
                    mailable(),
                    ~exists().where(
                        WelcomeReceipt.subscriber_id == Subscriber.id,
                        WelcomeReceipt.step_id == step_id,
                    ),
                )
            )
            compiled = query.compile(session.get_bind())
            connection = session.connection()
            plan = connection.exec_driver_sql(
                "EXPLAIN (ANALYZE, BUFFERS) " + str(compiled), compiled.params
            ).all()
            print(f"plan of step {step_id} (day {delay}), nobody due:")
            for (line,) in plan:
                print("    " + line)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--due", type=int, default=1000, help="readers due step 1, and step 2")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--admin-url")
    args = parser.parse_args()
    wire_extensions()
    with ThrowAwayDatabase(admin_url(args.admin_url), prefix="bench_welcome") as scratch:
        url = scratch.url.render_as_string(hide_password=False)
        db = open_database(url)
        settings = Settings(
            database_url=url,
            secret_key=SECRET,
            public_url=PUBLIC_URL,
            postal_address=POSTAL_ADDRESS,
        )
        now = utcnow().replace(microsecond=0)
        started = time.perf_counter()
        with db.engine.begin() as connection:
            connection.execute(text(READERS), {"rows": args.rows, "at": now})
            connection.execute(text(SUPPRESSIONS))
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text("VACUUM ANALYZE"))
        print(f"{args.rows:,} readers filled in {time.perf_counter() - started:.0f} s")
        with db.transaction() as session:
            for delay, subject in STEPS:
                add_step(session, StepText(delay, subject, "Bench body.\n\nSecond paragraph."))
        wall, cpu, readers = round_cost(scratch, db, settings, now)
        print(
            f"first round (freezes {len(STEPS)} step campaigns, queues the last week's "
            f"readers): {readers:,} readers in {wall:.2f} s wall, {cpu:.2f} s CPU"
        )
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text("VACUUM ANALYZE"))
        idle: list[tuple[float, float]] = []
        busy: list[tuple[float, float]] = []
        for run in range(args.runs):
            wall, cpu, readers = round_cost(scratch, db, settings, now)
            assert readers == 0, f"{readers} readers queued in an idle round"
            idle.append((wall, cpu))
            add_newcomers(db, now, run, args.due)
            wall, cpu, readers = round_cost(scratch, db, settings, now)
            assert readers == 2 * args.due, f"{readers} queued, {2 * args.due} were due"
            busy.append((wall, cpu))
        print(f"rounds at one moment, {args.runs} of each interleaved (wall / CPU, ms):")
        print("  (a) nobody due:    " + ", ".join(f"{w * 1e3:.0f}/{c * 1e3:.0f}" for w, c in idle))
        print("  (b) 2 x due:       " + ", ".join(f"{w * 1e3:.0f}/{c * 1e3:.0f}" for w, c in busy))
        idle_wall, idle_cpu = (statistics.median(x) for x in zip(*idle, strict=True))
        busy_wall, busy_cpu = (statistics.median(x) for x in zip(*busy, strict=True))
        print(f"  median (a) {idle_wall * 1e3:.1f} ms wall, {idle_cpu * 1e3:.1f} ms CPU")
        print(
            f"  median (b) {busy_wall * 1e3:.1f} ms wall, {busy_cpu * 1e3:.1f} ms CPU "
            f"({args.due:,} due step 1, {args.due:,} due step 2)"
        )
        per = 2 * args.due
        print(
            f"  per due reader: {(busy_wall - idle_wall) / per * 1e6:.0f} µs wall, "
            f"{(busy_cpu - idle_cpu) / per * 1e6:.0f} µs CPU (receipt + delivery row)"
        )
        explain_idle(db, now)
        db.dispose()


if __name__ == "__main__":
    main()
