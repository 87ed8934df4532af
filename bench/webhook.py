"""SendGrid event-webhook ingestion throughput on PostgreSQL: prints events/s.

    .venv/bin/python -m bench.webhook [--events 200000] [--concurrency 4] [--workers 2]
    .venv/bin/python -m bench.webhook --subscribers 1000000 --stored-events 10000000  # issue 17

What it does, all on this machine:
1. creates a throw-away PostgreSQL database (dropped at the end) next to the one in
   ``--admin-url`` (default: ``$NEWSLETTER_TEST_POSTGRES_URL`` or the local ``test``), seeds
   ``--subscribers`` readers, freezes a three-brief campaign for them and marks every
   delivery sent, as a send to SendGrid leaves them; with ``--stored-events`` it first stores
   that many events of a year of earlier campaigns (one SQL statement, not the webhook);
2. makes the events SendGrid would post for it (processed and delivered for everyone, opens
   for a third, a fifth of them Apple's machine opens, clicks on the variant's links, a few
   bounces, unsubscribes and spam reports, each with the custom args and ``sg_message_id``
   of its delivery) in batches of ``--batch`` (1,000, SendGrid's size);
3. starts ``newsletter serve --workers N`` on a free loopback port with a P-256 key
   generated for the run as ``NEWSLETTER_SENDGRID_WEBHOOK_PUBLIC_KEY``, and posts every batch
   signed as SendGrid signs (ECDSA/SHA-256 over timestamp + body), ``--concurrency`` at a
   time; prints events/s and the batch latency;
4. checks every event is a row, prints what a stored event costs on disk (bytes per row of
   ``events``, all partitions, heap and indexes; and of the payloads kept beside them for
   ``NEWSLETTER_EVENT_PAYLOAD_DAYS``), then posts everything again (SendGrid's
   at-least-once replay) and checks nothing changed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script (make bench) as well as with -m
    sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
from sqlalchemy import create_engine, select, text  # noqa: E402

from bench.send import SECRET, prepare_campaign, seed  # noqa: E402
from bench.signup import (  # noqa: E402
    ThrowAwayDatabase,
    admin_url,
    free_port,
    start_server,
    stop_server,
)
from campaigns.model import Variant  # noqa: E402
from campaigns.retention import ensure_partitions  # noqa: E402
from newsletter.briefs.importer import import_briefs  # noqa: E402
from newsletter.config import Settings  # noqa: E402
from newsletter.db import Database, open_database  # noqa: E402
from tests.fakes.sendgrid_signing import SendGridKey  # noqa: E402

HUMAN = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/126 Safari/537.36"


def mark_sent(database: Database, campaign_id: int) -> list[tuple[int, int, str, list[str]]]:
    """Every delivery as SendGrid accepted it: (delivery, variant, address, link URLs)."""
    with database.engine.begin() as connection:
        connection.execute(
            text(
                "UPDATE deliveries SET status = 'sent', message_id = 'bench' || variant_id, "
                "sent_at = now() - interval '1 hour' WHERE campaign_id = :c"
            ),
            {"c": campaign_id},
        )
        connection.execute(text("ANALYZE deliveries"))
    with database.transaction() as session:
        links = {
            variant_id: [link["url"] for link in value if link["section"] != "footer"]
            for variant_id, value in session.execute(select(Variant.id, Variant.links))
        }
        rows = session.execute(
            text(
                "SELECT d.id, d.variant_id, s.email FROM deliveries d "
                "JOIN subscribers s ON s.id = d.subscriber_id WHERE d.campaign_id = :c"
            ),
            {"c": campaign_id},
        ).all()
    return [(d, v, email, links[v]) for d, v, email in rows]


# Events of earlier campaigns, spread over the last year: one statement, no ingest (at 10M
# events the webhook itself would take hours on this machine). They name readers of the
# seeded list and deliveries that do not exist (events have no foreign keys), four kinds
# in turn; those of the last 30 days get a small payload, as the retention keeps them.
HISTORY = """
INSERT INTO events (source, event_id, type, occurred_at, delivery_id, campaign_id,
                    variant_id, subscriber_id, machine)
SELECT 1, 'history-' || g, (ARRAY[1, 2, 6, 7])[1 + g % 4],
       now() - interval '2 hours' - (g % 31536000) * interval '1 second',
       1000000000000 + g, 1000000 + g % 52, 1000000 + g % 52, 1 + g % :readers, false
FROM generate_series(1, :events) AS g
"""
HISTORY_PAYLOADS = """
INSERT INTO event_batches (received_at, first_event, last_event, size, events)
SELECT max(occurred_at), min(id), max(id), count(*),
       json_agg(json_build_array(id, NULL, json_build_object('event', 'history', 'n', event_id)))
FROM events WHERE event_id LIKE 'history-%' AND occurred_at > now() - interval '30 days'
GROUP BY id / 1000
"""


def store_history(database: Database, events: int, readers: int) -> float:
    """``events`` stored events of a year of earlier campaigns, in monthly partitions made
    first (as a year of ``keep_partitions_ahead`` would have); seconds it took."""
    started = time.perf_counter()
    today = datetime.now(UTC).date()
    with database.engine.begin() as connection:
        ensure_partitions(connection, today - timedelta(days=366), ahead=14)
        connection.execute(text(HISTORY), {"events": events, "readers": readers})
        connection.execute(text(HISTORY_PAYLOADS))
    with database.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
        c.execute(text("VACUUM ANALYZE events"))
        c.execute(text("VACUUM ANALYZE event_batches"))
    return time.perf_counter() - started


def make_events(
    campaign_id: int, deliveries: list[tuple[int, int, str, list[str]]], total: int
) -> list[dict[str, Any]]:
    """About ``total`` events of the kinds and shares a real send produces."""
    rng = random.Random(7)
    now = int(time.time())
    events: list[dict[str, Any]] = []
    serial = 0

    def add(delivery: tuple[int, int, str, list[str]], kind: str, **fields: Any) -> None:
        nonlocal serial
        serial += 1
        delivery_id, variant_id, email, _ = delivery
        events.append(
            {
                "email": email,
                "timestamp": now - rng.randint(0, 3000),
                "smtp-id": f"<bench{variant_id}.{delivery_id}@ismtpd-0>",
                "event": kind,
                "category": ["newsletter", f"campaign-{campaign_id}"],
                "sg_event_id": f"bench-{serial:09d}-{secrets.token_hex(6)}",
                "sg_message_id": f"bench{variant_id}.filter0001.{delivery_id}.0",
                "nl_campaign": str(campaign_id),
                "nl_variant": str(variant_id),
                "nl_delivery": str(delivery_id),
                **fields,
            }
        )

    while len(events) < total:
        for delivery in deliveries:
            if len(events) >= total:
                break
            add(delivery, "processed")
            roll = rng.random()
            if roll < 0.005:
                add(delivery, "bounce", type="bounce", reason="550 5.1.1 unknown", status="5.1.1")
                continue
            if roll < 0.01:
                add(delivery, "bounce", type="blocked", reason="421 try later", status="4.2.1")
                continue
            add(delivery, "delivered", response="250 OK")
            if rng.random() < 0.35:
                machine = rng.random() < 0.2
                agent = "Mozilla/5.0" if machine else f"{HUMAN}/{rng.randint(1, 500)}"
                add(delivery, "open", useragent=agent, sg_machine_open=machine, ip="192.0.2.1")
                if not machine and rng.random() < 0.3:
                    add(delivery, "click", url=rng.choice(delivery[3]), useragent=agent)
            if rng.random() < 0.001:
                add(delivery, "unsubscribe")
            if rng.random() < 0.0002:
                add(delivery, "spamreport")
    rng.shuffle(events)
    return events


Signed = list[tuple[bytes, dict[str, str]]]


def signed(bodies: list[bytes], signer: SendGridKey) -> Signed:
    """Each body with SendGrid's signature headers, made before a run's clock and CPU count
    start: SendGrid signs on its own machines, and hashing 350 KB a batch here would take
    CPU from the server (a run is far shorter than the signature's allowed age, 600 s)."""
    return [(body, signer.headers(body)) for body in bodies]


async def post_all(
    url: str, requests: Signed, concurrency: int
) -> tuple[float, list[float], dict[str, int]]:
    """Post every request (``concurrency`` at a time): wall time, latencies, summed answers."""
    latencies: list[float] = []
    totals: dict[str, int] = {}
    queue = list(reversed(requests))
    limits = httpx.Limits(max_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=60) as client:

        async def poster() -> None:
            while queue:
                body, headers = queue.pop()
                started = time.perf_counter()
                answer = await client.post("/webhooks/sendgrid", content=body, headers=headers)
                latencies.append(time.perf_counter() - started)
                if answer.status_code != 200:
                    raise SystemExit(f"the webhook answered {answer.status_code}: {answer.text}")
                for key, value in answer.json().items():
                    totals[key] = totals.get(key, 0) + value

        started = time.perf_counter()
        await asyncio.gather(*(poster() for _ in range(concurrency)))
        return time.perf_counter() - started, latencies, totals


def cpu_seconds(pids: list[int]) -> dict[int, float] | None:
    """User + system CPU of each of these processes so far (Linux /proc; None elsewhere)."""
    tick = os.sysconf("SC_CLK_TCK")
    found: dict[int, float] = {}
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        except OSError:
            return None
        found[pid] = (int(fields[11]) + int(fields[12])) / tick
    return found


def server_pids(server: subprocess.Popen[bytes]) -> list[int]:
    """The server and its workers (they share its process group)."""
    return [
        int(entry.name)
        for entry in Path("/proc").iterdir()
        if entry.name.isdigit() and _group_of(int(entry.name)) == server.pid
    ]


def _group_of(pid: int) -> int | None:
    try:
        return os.getpgid(pid)
    except ProcessLookupError:
        return None


def backend_pids(scratch: ThrowAwayDatabase) -> list[int]:
    """PostgreSQL's backends serving the benchmark's database."""
    with scratch.admin.connect() as connection:
        rows = connection.execute(
            text("SELECT pid FROM pg_stat_activity WHERE datname = :name"), {"name": scratch.name}
        )
        return [int(pid) for (pid,) in rows]


CpuSnapshot = tuple[dict[int, float] | None, ...]


def cpu_split(before: CpuSnapshot, after: CpuSnapshot, batches: int) -> str:
    """CPU per batch of each part: per process, what it spent since ``before`` (all of it for
    a process that started since: the server's pool may open PostgreSQL backends mid-run,
    which a list of processes taken at the start would miss)."""
    parts = []
    for name, start, end in zip(("server", "PostgreSQL", "client"), before, after, strict=True):
        if start is None or end is None:
            parts.append(f"{name} n/a")
            continue
        spent = sum(seconds - start.get(pid, 0.0) for pid, seconds in end.items())
        parts.append(f"{name} {spent / batches * 1000:.1f} ms")
    return "CPU per batch: " + ", ".join(parts)


def disk_bytes(scratch: ThrowAwayDatabase, table: str) -> tuple[int, int]:
    """Heap (with TOAST) and index bytes of ``table`` and of all its partitions; (0, 0) if
    there is no such table."""
    engine = create_engine(scratch.url)
    query = text(
        "SELECT coalesce(sum(pg_table_size(c.oid)), 0), coalesce(sum(pg_indexes_size(c.oid)), 0)"
        " FROM pg_class c WHERE to_regclass(:t) IS NOT NULL AND (c.oid = to_regclass(:t)"
        " OR c.oid IN (SELECT inhrelid FROM pg_inherits WHERE inhparent = to_regclass(:t)))"
    )
    with engine.connect() as connection:
        heap, indexes = connection.execute(query, {"t": table}).one()
    engine.dispose()
    return int(heap), int(indexes)


def report_sizes(scratch: ThrowAwayDatabase, rows: int) -> None:
    """What one stored event costs on disk (rows: the events stored)."""
    heap, indexes = disk_bytes(scratch, "events")
    print(
        f"size: events {(heap + indexes) / rows:.0f} bytes/row on disk with indexes "
        f"(table {heap / rows:.0f}, indexes {indexes / rows:.0f})"
    )
    heap, indexes = disk_bytes(scratch, "event_batches")
    payloads = scratch.count("event_batches", "sum(size)")
    if heap and payloads:
        print(f"size: payloads {(heap + indexes) / payloads:.0f} bytes/event (kept for a while)")


def report(label: str, events: int, elapsed: float, latencies: list[float]) -> None:
    ordered = sorted(latencies)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    print(
        f"{label}: {events:,} events in {elapsed:.2f} s = {events / elapsed:,.0f} events/s; "
        f"per batch p50 {statistics.median(ordered) * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000, help="events to post")
    parser.add_argument("--batch", type=int, default=1000, help="events per POST (SendGrid: 1000)")
    parser.add_argument("--subscribers", type=int, default=50_000)
    parser.add_argument("--concurrency", type=int, default=4, help="POSTs in flight")
    parser.add_argument("--workers", type=int, default=2, help="server processes")
    parser.add_argument(
        "--stored-events",
        type=int,
        default=0,
        help="events of earlier campaigns stored before the run (issue 17: 10,000,000)",
    )
    parser.add_argument("--admin-url", help="PostgreSQL URL allowed to CREATE DATABASE")
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} cores; Python {sys.version.split()[0]}", flush=True)

    with (
        ThrowAwayDatabase(admin_url(args.admin_url), prefix="bench_webhook") as scratch,
        tempfile.TemporaryDirectory() as work,
    ):
        database_url = scratch.url.render_as_string(hide_password=False)
        database = open_database(database_url)
        with database.engine.connect() as connection:  # the figures depend on it at 1M
            memory = connection.execute(text("SHOW shared_buffers")).scalar_one()
        print(f"PostgreSQL shared_buffers: {memory}", flush=True)
        import_briefs(database, [ROOT / "examples" / "briefs"], mark_ready=True)  # the SLUGS
        seed(database, args.subscribers)
        import_briefs(database, [ROOT / "examples" / "briefs"], mark_ready=True)
        settings = Settings(database_url=database_url, secret_key=SECRET, outbox=Path(work) / "o")
        campaign_id, _ = prepare_campaign(database, settings)
        deliveries = mark_sent(database, campaign_id)
        if args.stored_events:
            took = store_history(database, args.stored_events, args.subscribers)
            print(f"stored {args.stored_events:,} earlier events in {took:.0f} s", flush=True)
        events = make_events(campaign_id, deliveries, args.events)
        bodies = [
            json.dumps(events[i : i + args.batch]).encode()
            for i in range(0, len(events), args.batch)
        ]
        size = sum(map(len, bodies)) / len(bodies)
        print(
            f"{len(events):,} events for {len(deliveries):,} deliveries in {len(bodies)} "
            f"batches of {args.batch} ({size / 1000:.0f} KB each)",
            flush=True,
        )
        signer = SendGridKey()
        port = free_port()
        server = start_server(
            scratch.url,
            port,
            args.workers,
            Path(work),
            {"NEWSLETTER_SENDGRID_WEBHOOK_PUBLIC_KEY": signer.public_key},
        )
        url = f"http://127.0.0.1:{port}"
        try:
            warm_up = signed([json.dumps([]).encode()] * 20, signer)
            asyncio.run(post_all(url, warm_up, args.concurrency))
            requests = signed(bodies, signer)

            def cpu() -> CpuSnapshot:
                return (
                    cpu_seconds(server_pids(server)),
                    cpu_seconds(backend_pids(scratch)),
                    {0: time.process_time()},
                )

            before = cpu()
            elapsed, latencies, totals = asyncio.run(post_all(url, requests, args.concurrency))
            report(
                f"first delivery ({args.workers} workers, {args.concurrency} in flight)",
                len(events),
                elapsed,
                latencies,
            )
            print(cpu_split(before, cpu(), len(bodies)))
            stored = scratch.count("events") - args.stored_events
            print(f"check: {stored:,} rows for {len(events):,} events; answers {totals}")
            report_sizes(scratch, stored + args.stored_events)
            requests = signed(bodies, signer)
            before = cpu()
            again, latencies, totals = asyncio.run(post_all(url, requests, args.concurrency))
            report("replay (all duplicates)", len(events), again, latencies)
            print(cpu_split(before, cpu(), len(bodies)))
            added = scratch.count("events") - args.stored_events - stored
            print(f"check: {added:,} new rows after the replay; answers {totals}")
        finally:
            stop_server(server)
            database.dispose()
        print(
            f"check: {scratch.count('suppressions')} addresses suppressed (hard bounces, spam "
            f"reports), {scratch.count('consent_records')} unsubscribes recorded"
        )


if __name__ == "__main__":
    main()
