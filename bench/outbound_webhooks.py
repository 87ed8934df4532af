"""What outbound webhooks cost where they are queued, and how fast they are sent, PostgreSQL.

    .venv/bin/python bench/outbound_webhooks.py [--subscribers 20000] [--runs 6] [--messages 3000]

It creates a throw-away database next to ``$NEWSLETTER_TEST_POSTGRES_URL`` (dropped at the
end), seeds ``--subscribers`` readers (bench.send's seed), freezes a three-brief campaign for
them and marks every delivery sent, then, in this process and interleaved run by run:

1. ingests SendGrid batches of 1,000 events on distinct deliveries (200 hard bounces, 100
   spam reports, 700 delivered: 300 readers suppressed per batch) the way the webhook route
   does (parse, normalise, ``record_events`` in one transaction), alternately with no
   enabled endpoint and with one subscribed to ``subscriber.bounced`` and
   ``subscriber.complained`` (the same endpoint, disabled or enabled: a disabled endpoint
   is what ``queue_events`` sees as none);
2. confirms pending readers (``subscribers.signup.confirm``, one transaction each), blocks of
   ``--confirms`` alternately without and with an endpoint subscribed to
   ``subscriber.confirmed``;
3. queues ``--messages`` messages for one endpoint on a loopback receiver (a
   ``ThreadingHTTPServer`` in a child process answering 204) and times ``send_due`` until
   none is left.

Figures: medians of wall time and of CPU (this process plus the database's backends, from
/proc), the overhead per webhook message queued, and the sender's deliveries/s.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script as well as with -m
    sys.path.insert(0, str(ROOT))

from sqlalchemy import text  # noqa: E402

from bench.send import POSTAL_ADDRESS, PUBLIC_URL, SECRET, prepare_campaign, seed  # noqa: E402
from bench.signup import ThrowAwayDatabase, admin_url, free_port  # noqa: E402
from bench.webhook import backend_pids, cpu_seconds, mark_sent  # noqa: E402
from campaigns.ingest import IngestPolicy, record_events  # noqa: E402
from campaigns.linkmap import LinkIndexCache, url_expansions  # noqa: E402
from campaigns.sendgrid_events import parse_batch, sendgrid_record  # noqa: E402
from campaigns.wiring import wire_extensions  # noqa: E402
from newsletter.briefs.importer import import_briefs  # noqa: E402
from newsletter.config import Settings  # noqa: E402
from newsletter.db import Database, open_database, utcnow  # noqa: E402
from newsletter.webhooks.endpoints import add_endpoint  # noqa: E402
from newsletter.webhooks.model import EventType  # noqa: E402
from newsletter.webhooks.queue import queue_events  # noqa: E402
from newsletter.webhooks.sender import WebhookSender  # noqa: E402
from subscribers.signup import Origin, confirm  # noqa: E402

RECEIVER = """
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

class Answer(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_POST(self):
        self.rfile.read(int(self.headers.get("content-length", 0)))
        self.send_response(204)
        self.send_header("content-length", "0")
        self.end_headers()
    def log_message(self, *args):
        pass

ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Answer).serve_forever()
"""
PENDING = """
INSERT INTO subscribers (uid, email, email_key, email_hash, name, status, topics, narratives,
                         attributes, source, created_at)
SELECT 'pending' || n, 'pending' || n || '@example.org', 'pending' || n || '@example.org',
       md5('pending' || n), NULL, 'pending', '[]'::jsonb, 'all', '{}'::jsonb, 'web', now()
FROM generate_series(1, :n) AS n
"""
BOUNCES, COMPLAINTS, BATCH = 200, 100, 1000


class Meter:
    """Wall and CPU time (this process and the database's backends) of what it times."""

    def __init__(self, scratch: ThrowAwayDatabase) -> None:
        self.scratch = scratch

    def __call__(self, work: Callable[[], object]) -> tuple[float, float]:
        pids = backend_pids(self.scratch)
        before = cpu_seconds(pids) or {}
        process = time.process_time()
        started = time.perf_counter()
        work()
        wall = time.perf_counter() - started
        after = cpu_seconds(pids) or {}
        backend = sum(after.get(pid, 0.0) - before.get(pid, 0.0) for pid in after)
        return wall, time.process_time() - process + backend


def batch_body(campaign_id: int, deliveries: list[tuple[int, int, str, list[str]]]) -> bytes:
    """A SendGrid batch: one event per delivery, the first ones bounces, then spam reports."""
    now = int(time.time())
    events: list[dict[str, Any]] = []
    for position, (delivery_id, variant_id, email, _) in enumerate(deliveries):
        extra: dict[str, Any] = {"event": "delivered", "response": "250 OK"}
        if position < BOUNCES:
            extra = {"event": "bounce", "type": "bounce", "reason": "550 5.1.1", "status": "5.1.1"}
        elif position < BOUNCES + COMPLAINTS:
            extra = {"event": "spamreport"}
        events.append(
            {
                "email": email,
                "timestamp": now,
                "sg_event_id": f"bench-{delivery_id}-{position}",
                "sg_message_id": f"bench{variant_id}.filter0001.{delivery_id}.0",
                "nl_campaign": str(campaign_id),
                "nl_variant": str(variant_id),
                "nl_delivery": str(delivery_id),
                **extra,
            }
        )
    return json.dumps(events).encode()


def set_endpoint(database: Database, endpoint_id: int, enabled: bool) -> None:
    with database.engine.begin() as connection:
        connection.execute(
            text("UPDATE webhook_endpoints SET enabled = :on WHERE id = :id"),
            {"on": enabled, "id": endpoint_id},
        )


def messages(database: Database) -> int:
    with database.engine.connect() as connection:
        return int(connection.execute(text("SELECT count(*) FROM webhook_messages")).scalar_one())


def medians(samples: list[tuple[float, float]]) -> tuple[float, float]:
    wall, cpu = (statistics.median(values) for values in zip(*samples, strict=True))
    return wall, cpu


def show(label: str, samples: list[tuple[float, float]], unit: float, name: str) -> None:
    wall, cpu = medians(samples)
    print(
        f"  {label:26} median {wall * 1e3:7.1f} ms wall, {cpu * 1e3:7.1f} ms CPU per {name} "
        f"({wall / unit * 1e6:.0f} / {cpu / unit * 1e6:.0f} µs per event); runs (wall/CPU ms): "
        + ", ".join(f"{w * 1e3:.0f}/{c * 1e3:.0f}" for w, c in samples)
    )


def ingest_figures(
    database: Database,
    settings: Settings,
    meter: Meter,
    endpoint_id: int,
    campaign_id: int,
    deliveries: list[tuple[int, int, str, list[str]]],
    runs: int,
) -> None:
    policy = IngestPolicy.from_settings(settings)
    links = LinkIndexCache(url_expansions(settings.public_url))
    slices = iter(range(0, len(deliveries) - BATCH + 1, BATCH))

    def ingest(body: bytes) -> None:
        received = utcnow()
        records = [sendgrid_record(event, received) for event in parse_batch(body)]
        with database.transaction() as session:
            record_events(session, records, policy, links)

    times: dict[bool, list[tuple[float, float]]] = {False: [], True: []}
    queued = 0
    for run in range(runs + 1):  # the first pair warms up
        for subscribed in (False, True):
            start = next(slices)
            body = batch_body(campaign_id, deliveries[start : start + BATCH])
            set_endpoint(database, endpoint_id, subscribed)
            before = messages(database)
            sample = meter(lambda b=body: ingest(b))  # type: ignore[misc]
            made = messages(database) - before
            assert made == (BOUNCES + COMPLAINTS if subscribed else 0), made
            queued = made or queued
            if run:
                times[subscribed].append(sample)
    print(
        f"SendGrid batch of {BATCH:,} events ({BOUNCES} hard bounces, {COMPLAINTS} spam "
        f"reports: {queued} messages queued when subscribed), {runs} of each interleaved:"
    )
    show("no endpoint", times[False], BATCH, "batch")
    show("endpoint subscribed", times[True], BATCH, "batch")
    (wall0, cpu0), (wall1, cpu1) = medians(times[False]), medians(times[True])
    print(
        f"  overhead: {(wall1 - wall0) * 1e3:+.1f} ms wall, {(cpu1 - cpu0) * 1e3:+.1f} ms CPU "
        f"per batch ({wall1 / wall0:.2f}x / {cpu1 / cpu0:.2f}x); per message queued "
        f"{(wall1 - wall0) / queued * 1e6:+.0f} µs wall, {(cpu1 - cpu0) / queued * 1e6:+.0f} µs CPU"
    )


def confirm_figures(
    database: Database, meter: Meter, endpoint_id: int, runs: int, block: int
) -> None:
    with database.engine.begin() as connection:
        connection.execute(text(PENDING), {"n": 2 * (runs + 1) * block})
        connection.execute(text("ANALYZE subscribers"))
    origin = Origin(ip="127.0.0.1", user_agent="bench", source="web")
    uids = iter(f"pending{n}" for n in range(1, 2 * (runs + 1) * block + 1))

    def confirm_block() -> None:
        for _ in range(block):
            with database.transaction() as session:
                confirm(session, next(uids), origin)

    times: dict[bool, list[tuple[float, float]]] = {False: [], True: []}
    for run in range(runs + 1):
        for subscribed in (False, True):
            set_endpoint(database, endpoint_id, subscribed)
            before = messages(database)
            sample = meter(confirm_block)
            assert messages(database) - before == (block if subscribed else 0)
            if run:
                times[subscribed].append(sample)
    print(f"confirmations, blocks of {block} (one transaction each), {runs} of each interleaved:")
    show("no endpoint", times[False], block, "block")
    show("endpoint subscribed", times[True], block, "block")
    (wall0, cpu0), (wall1, cpu1) = medians(times[False]), medians(times[True])
    print(
        f"  overhead per confirmation: {(wall1 - wall0) / block * 1e6:+.0f} µs wall, "
        f"{(cpu1 - cpu0) / block * 1e6:+.0f} µs CPU ({wall1 / wall0:.2f}x / {cpu1 / cpu0:.2f}x)"
    )


def sender_figures(
    database: Database, settings: Settings, meter: Meter, endpoint_id: int, count: int
) -> None:
    set_endpoint(database, endpoint_id, False)
    port = free_port()
    receiver = subprocess.Popen([sys.executable, "-c", RECEIVER, str(port)])
    try:
        time.sleep(0.5)
        with database.transaction() as session:
            session.execute(text("DELETE FROM webhook_messages"))
            added = add_endpoint(
                session,
                f"http://127.0.0.1:{port}/hook",
                [EventType.SUBSCRIBER_CONFIRMED.value],
                created_by="bench",
                allow_private=True,
            )
            at = datetime.now(UTC)
            data = {"subscriber_uid": "u", "email": "r@example.org", "status": "active"}
            queue_events(session, [(EventType.SUBSCRIBER_CONFIRMED, data)] * count, now=at)
        sender = WebhookSender(database, settings)
        receiver_cpu = cpu_seconds([receiver.pid]) or {}
        reports = []
        try:
            wall, cpu = meter(lambda: reports.append(sender.send_due()))
        finally:
            sender.close()
        after = cpu_seconds([receiver.pid]) or {}
        spent = after.get(receiver.pid, 0.0) - receiver_cpu.get(receiver.pid, 0.0)
        report = reports[0]
        assert report.delivered == count, (report.delivered, report.errors[:3])
        print(
            f"sender: {count:,} messages to one loopback endpoint (endpoint {added.row.id}) "
            f"delivered in {wall:.2f} s = {count / wall:,.0f} deliveries/s; CPU "
            f"{cpu / count * 1e3:.2f} ms per delivery (sender + PostgreSQL), receiver "
            f"{spent / count * 1e3:.2f} ms"
        )
    finally:
        receiver.terminate()
        receiver.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=6, help="runs of each kind (median)")
    parser.add_argument("--confirms", type=int, default=100, help="confirmations per block")
    parser.add_argument("--messages", type=int, default=3000, help="messages for the sender")
    parser.add_argument("--admin-url")
    args = parser.parse_args()
    needed = 2 * (args.runs + 1) * BATCH
    if args.subscribers < needed:
        parser.error(f"--subscribers must be at least {needed:,} for {args.runs} runs")
    wire_extensions()
    with (
        ThrowAwayDatabase(admin_url(args.admin_url), prefix="bench_outbound") as scratch,
        tempfile.TemporaryDirectory() as work,
    ):
        url = scratch.url.render_as_string(hide_password=False)
        database = open_database(url)
        settings = Settings(
            database_url=url,
            secret_key=SECRET,
            public_url=PUBLIC_URL,
            postal_address=POSTAL_ADDRESS,
            outbox=Path(work) / "outbox",
            webhooks_allow_private_addresses=True,
        )
        import_briefs(database, [ROOT / "examples" / "briefs"], mark_ready=True)
        seed(database, args.subscribers)
        campaign_id, _ = prepare_campaign(database, settings)
        deliveries = mark_sent(database, campaign_id)
        with database.transaction() as session:
            endpoint = add_endpoint(
                session,
                "http://127.0.0.1:9/hook",  # never sent to here: the sender does not run
                [
                    EventType.SUBSCRIBER_BOUNCED.value,
                    EventType.SUBSCRIBER_COMPLAINED.value,
                    EventType.SUBSCRIBER_CONFIRMED.value,
                ],
                created_by="bench",
                allow_private=True,
            ).row.id
        meter = Meter(scratch)
        ingest_figures(database, settings, meter, endpoint, campaign_id, deliveries, args.runs)
        confirm_figures(database, meter, endpoint, args.runs, args.confirms)
        sender_figures(database, settings, meter, endpoint, args.messages)
        database.dispose()


if __name__ == "__main__":
    main()
