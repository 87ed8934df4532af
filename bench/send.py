"""Send benchmark: freeze and dispatch a campaign to N subscribers on PostgreSQL.

    .venv/bin/python -m bench.send [--sizes 100000,1000000] [--latency-ms 50] [--workers 1,2]

For each size it seeds N active subscribers in a throw-away schema, freezes a three-brief
campaign (compile + one INSERT … SELECT), then dispatches it with `newsletter worker --once`
processes to the fake SendGrid server (a separate process that counts what it accepts and
checks SendGrid's rules on every 25th request),
and prints the freeze time, recipients/s per worker count, and each worker's peak RSS.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import time
import uuid
from pathlib import Path

from sqlalchemy import create_engine, text, update
from sqlalchemy.engine import make_url

from campaigns.freeze import freeze_campaign
from campaigns.model import Campaign, Delivery
from campaigns.service import CampaignDraft, create_campaign
from newsletter.briefs.importer import import_briefs
from newsletter.config import Settings
from newsletter.db import Database, open_database
from tests.fakes.sendgrid_server import DEFAULT_KEY, FakeSendGridProcess

ROOT = Path(__file__).resolve().parent.parent
SLUGS = (
    "eu-gas-prices-climb-as-early-cold-snap-drains-storage",
    "bank-of-england-cuts-rates-split-vote",
    "judge-orders-google-to-sell-its-ad-exchange",
)
SECRET = "bench-secret-key-0123456789abcdef"

SEED = """
INSERT INTO subscribers (uid, email, email_key, email_hash, name, status, topics, narratives,
                         attributes, source, created_at, confirmed_at)
SELECT substr(md5(i::text || random()::text), 1, 22),
       'reader' || i || '@example.org',
       'reader' || i || '@example.org',
       encode(sha256(convert_to('reader' || i || '@example.org', 'UTF8')), 'hex'),
       CASE WHEN i % 3 = 0 THEN NULL ELSE 'Reader ' || i END,
       'active', '[]'::jsonb, 'all', '{}'::jsonb, 'bench', now(), now()
FROM generate_series(1, :n) AS i
"""


def scratch_schema(base_url: str) -> tuple[str, str]:
    schema = f"bench_{uuid.uuid4().hex[:8]}"
    engine = create_engine(base_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine.dispose()
    url = make_url(base_url).update_query_dict({"options": f"-csearch_path={schema}"})
    return schema, url.render_as_string(hide_password=False)


def drop_schema(base_url: str, schema: str) -> None:
    engine = create_engine(base_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    engine.dispose()


def seed(database: Database, size: int) -> float:
    started = time.perf_counter()
    with database.transaction() as session:
        session.execute(text(SEED), {"n": size})
    with database.engine.connect() as connection:
        connection.execute(text("ANALYZE subscribers"))
        connection.commit()
    return time.perf_counter() - started


def prepare_campaign(database: Database, settings: Settings) -> tuple[int, float]:
    import_briefs(database, [ROOT / "examples" / "briefs"], mark_ready=True)
    with database.transaction() as session:
        campaign_id = create_campaign(
            session, CampaignDraft(name="Benchmark", brief_slugs=list(SLUGS))
        ).id
    started = time.perf_counter()
    result = freeze_campaign(database, campaign_id, settings)
    elapsed = time.perf_counter() - started
    print(f"  freeze: {result.recipients:,} recipients in {elapsed:.1f} s", flush=True)
    return campaign_id, elapsed


def requeue(database: Database, campaign_id: int) -> None:
    with database.transaction() as session:
        session.execute(
            update(Delivery)
            .where(Delivery.campaign_id == campaign_id)
            .values(status="queued", worker=None, lease_until=None, message_id=None)
        )
        session.execute(update(Campaign).where(Campaign.id == campaign_id).values(status="sending"))
    with database.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text("VACUUM ANALYZE deliveries"))


def run_workers(count: int, env: dict[str, str]) -> tuple[float, list[int], float]:
    """Wall time, each worker's peak RSS (KiB) and the workers' CPU seconds (rusage)."""
    newsletter = Path(sys.executable).with_name("newsletter")
    started = time.perf_counter()
    processes = [
        subprocess.Popen([str(newsletter), "worker", "--once"], env=env, cwd=ROOT)
        for _ in range(count)
    ]
    peaks: list[int] = []
    cpu = 0.0
    for process in processes:
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
        if process.returncode != 0:
            raise SystemExit(f"a worker failed with exit code {process.returncode}")
        peaks.append(usage.ru_maxrss)
        cpu += usage.ru_utime + usage.ru_stime
    return time.perf_counter() - started, peaks, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000000", help="Comma-separated recipient counts.")
    parser.add_argument("--latency-ms", type=float, default=50.0)
    parser.add_argument("--workers", default="1,2", help="Worker counts to measure.")
    parser.add_argument("--lanes", type=int, default=8, help="Requests in flight per worker.")
    parser.add_argument(
        "--check-every",
        type=int,
        default=25,
        help="The fake server checks SendGrid's rules and schema on every n-th request "
        "(it shares this machine's cores with the worker; 1 checks all).",
    )
    parser.add_argument(
        "--postgres",
        default=os.environ.get(
            "NEWSLETTER_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
        ),
    )
    args = parser.parse_args()
    fake = FakeSendGridProcess(
        "--latency-ms",
        str(args.latency_ms),
        "--check-every",
        str(args.check_every),
        "--no-record",
    )
    try:
        for size in (int(s) for s in args.sizes.split(",")):
            measure(size, args, fake)
    finally:
        fake.stop()
    print(
        f"bench process peak RSS: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024} MB"
    )


def measure(size: int, args: argparse.Namespace, fake: FakeSendGridProcess) -> None:
    print(f"N = {size:,} (provider latency {args.latency_ms:.0f} ms, {args.lanes} lanes)")
    schema, url = scratch_schema(args.postgres)
    try:
        database = open_database(url)
        print(f"  seed: {seed(database, size):.1f} s", flush=True)
        settings = Settings(
            database_url=url,
            provider="sendgrid",
            sendgrid_api_key=DEFAULT_KEY,
            sendgrid_host=fake.url,
            secret_key=SECRET,
            # the bulk-mail checks a real send needs (freeze refuses without them)
            public_url="https://news.example.org",
            postal_address="1 Example Street, 10115 Berlin",
        )
        campaign_id, _ = prepare_campaign(database, settings)
        env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSLETTER_")}
        env.update(
            NEWSLETTER_DATABASE_URL=url,
            NEWSLETTER_PROVIDER="sendgrid",
            SENDGRID_API_KEY=DEFAULT_KEY,
            NEWSLETTER_SENDGRID_HOST=fake.url,
            NEWSLETTER_SECRET_KEY=SECRET,
            NEWSLETTER_SEND_LANES=str(args.lanes),
            NO_PROXY="127.0.0.1,localhost",
        )
        for index, workers in enumerate(int(w) for w in args.workers.split(",")):
            if index:
                requeue(database, campaign_id)
            before = fake.stats().get("accepted_personalizations", 0)
            elapsed, peaks, cpu = run_workers(workers, env)
            accepted = fake.stats().get("accepted_personalizations", 0) - before
            assert accepted == size, f"expected {size} accepted, the fake server saw {accepted}"
            print(
                f"  dispatch, {workers} worker(s): {size / elapsed:,.0f} recipients/s "
                f"({elapsed:.1f} s); worker CPU {cpu / size * 1e6:.0f} µs per recipient; "
                "peak RSS per worker " + ", ".join(f"{p // 1024} MB" for p in peaks),
                flush=True,
            )
        database.dispose()
    finally:
        drop_schema(args.postgres, schema)


if __name__ == "__main__":
    main()
