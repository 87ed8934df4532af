"""Report benchmark on PostgreSQL: a campaign's report and the reports list, built from data
sent and ingested through the project's own paths; prints each figure.

    .venv/bin/python -m bench.report [--subscribers 1000000] [--events-per-reader 1.5]
        [--others 1] [--list-campaigns 50] [--list-readers 100000] [--database-url URL]

1. In a throw-away database (next to ``--database-url``, default
   ``$NEWSLETTER_TEST_POSTGRES_URL``): seeds ``--subscribers`` readers, freezes a campaign
   for all of them (bench/send.py's helpers), marks every delivery sent as a SendGrid send
   leaves them and makes the events SendGrid would post (bench/webhook.py's helpers), then
   ingests them through the webhook's own ingest (``TrackingSite.ingest_sendgrid``, in this
   process, batches of 1,000): prints events/s with the report counters kept.
2. The report function (``campaign_report``): cold (a new engine and connections, first
   call) and warm (median of 5).
3. ``--others`` more campaigns of the same size with their events, then the first
   campaign's report again: with others present / alone.
4. In a second throw-away database: ``--list-campaigns`` sent campaigns of ``--list-readers``
   readers, each with its events, and an editor; ``newsletter serve`` answers
   ``GET /editor/reports`` (logged in): the page's time, median of 10.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
from sqlalchemy import text  # noqa: E402

from bench.send import SECRET, prepare_campaign, seed  # noqa: E402
from bench.signup import (  # noqa: E402
    ThrowAwayDatabase,
    admin_url,
    free_port,
    start_server,
    stop_server,
)
from bench.webhook import make_events, mark_sent  # noqa: E402
from campaigns.reports import campaign_report  # noqa: E402
from campaigns.routes import TrackingSite  # noqa: E402
from newsletter.briefs.importer import import_briefs  # noqa: E402
from newsletter.config import Settings  # noqa: E402
from newsletter.db import Database, open_database  # noqa: E402
from newsletter.editors.accounts import create_editor  # noqa: E402
from tests.editor.conftest import PASSWORD, csrf_of  # noqa: E402

BATCH = 1000


def sent_campaign(
    database: Database, settings: Settings, events_per_reader: float
) -> tuple[int, list[bytes]]:
    """A campaign frozen for every reader, marked sent, and its webhook batches."""
    campaign_id, _ = prepare_campaign(database, settings)
    deliveries = mark_sent(database, campaign_id)
    events = make_events(campaign_id, deliveries, int(len(deliveries) * events_per_reader))
    bodies = [json.dumps(events[i : i + BATCH]).encode() for i in range(0, len(events), BATCH)]
    return campaign_id, bodies


def ingest(site: TrackingSite, bodies: list[bytes]) -> float:
    """Events/s through the webhook's ingest, one batch after another."""
    started = time.perf_counter()
    count = 0
    for body in bodies:
        count += site.ingest_sendgrid(body).received
    return count / (time.perf_counter() - started)


def analyze(database: Database) -> None:
    with database.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
        c.execute(text("VACUUM ANALYZE"))


def timed(call: Callable[[], Any]) -> float:
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


def report_times(url: str, campaign_id: int, warm_runs: int = 5) -> tuple[float, float]:
    """Cold (new engine, first call) and warm (median) seconds of the report function."""
    database = open_database(url)
    try:

        def once() -> None:
            with database.transaction() as session:
                campaign_report(session, campaign_id)

        cold = timed(once)
        warm = statistics.median(timed(once) for _ in range(warm_runs))
    finally:
        database.dispose()
    return cold, warm


def build(args: argparse.Namespace, scratch: ThrowAwayDatabase, work: Path) -> None:
    url = scratch.url.render_as_string(hide_password=False)
    database = open_database(url)
    seed(database, args.subscribers)
    import_briefs(database, [ROOT / "examples" / "briefs"], mark_ready=True)
    settings = Settings(database_url=url, secret_key=SECRET, outbox=work / "o")
    site = TrackingSite.build(settings, database)
    campaign_id, bodies = sent_campaign(database, settings, args.events_per_reader)
    rate = ingest(site, bodies)
    print(
        f"ingest: {len(bodies) * BATCH:,} events at {rate:,.0f} events/s (one thread, counters on)"
    )
    analyze(database)
    cold, warm = report_times(url, campaign_id)
    print(f"report alone: cold {cold * 1000:.0f} ms, warm {warm * 1000:.0f} ms", flush=True)
    for _ in range(args.others):
        _, other_bodies = sent_campaign(database, settings, args.events_per_reader)
        ingest(site, other_bodies)
    analyze(database)
    events = scratch.count("events")
    cold2, warm2 = report_times(url, campaign_id)
    print(
        f"report with {args.others} other campaign(s), {events:,} events stored: cold "
        f"{cold2 * 1000:.0f} ms, warm {warm2 * 1000:.0f} ms; warm ratio to alone "
        f"{warm2 / warm:.2f}",
        flush=True,
    )
    database.dispose()


def reports_page(args: argparse.Namespace, scratch: ThrowAwayDatabase, work: Path) -> None:
    url = scratch.url.render_as_string(hide_password=False)
    database = open_database(url)
    seed(database, args.list_readers)
    import_briefs(database, [ROOT / "examples" / "briefs"], mark_ready=True)
    settings = Settings(database_url=url, secret_key=SECRET, outbox=work / "o")
    site = TrackingSite.build(settings, database)
    for _ in range(args.list_campaigns):
        _, bodies = sent_campaign(database, settings, args.list_events_per_reader)
        ingest(site, bodies)
    with database.transaction() as session:
        create_editor(session, "bench@example.org", PASSWORD, "editor")
    analyze(database)
    database.dispose()
    port = free_port()
    server = start_server(scratch.url, port, 1, work)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as http:
            token = csrf_of(http.get("/editor/login").text)
            form = {"email": "bench@example.org", "password": PASSWORD, "csrf_token": token}
            if http.post("/editor/login", data=form).status_code != 303:
                raise SystemExit("could not log in")

            def page() -> None:
                answer = http.get("/editor/reports")
                if answer.status_code != 200:
                    raise SystemExit(f"/editor/reports answered {answer.status_code}")

            first = timed(page)
            times = [timed(page) for _ in range(10)]
    finally:
        stop_server(server)
    print(
        f"/editor/reports with {args.list_campaigns} campaigns of {args.list_readers:,} "
        f"readers: first {first * 1000:.0f} ms, median {statistics.median(times) * 1000:.0f} ms "
        f"(max {max(times) * 1000:.0f} ms), over HTTP"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", help="PostgreSQL URL allowed to CREATE DATABASE")
    parser.add_argument("--subscribers", type=int, default=1_000_000)
    parser.add_argument("--events-per-reader", type=float, default=1.5)
    parser.add_argument("--others", type=int, default=1, help="other campaigns of that size")
    parser.add_argument("--list-campaigns", type=int, default=50)
    parser.add_argument("--list-readers", type=int, default=100_000)
    parser.add_argument("--list-events-per-reader", type=float, default=0.2)
    parser.add_argument("--skip-list", action="store_true", help="no reports-page part")
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} cores; Python {sys.version.split()[0]}", flush=True)
    admin = admin_url(args.database_url)
    with tempfile.TemporaryDirectory() as work:
        with ThrowAwayDatabase(admin, prefix="bench_report") as scratch:
            build(args, scratch, Path(work))
        if not args.skip_list:
            with ThrowAwayDatabase(admin, prefix="bench_reports_list") as scratch:
                reports_page(args, scratch, Path(work))


if __name__ == "__main__":
    main()
