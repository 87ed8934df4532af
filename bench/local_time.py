"""Freeze at the readers' local time vs. at once: N readers over 30 time zones, PostgreSQL.

    .venv/bin/python -m bench.local_time [--sizes 100000] [--runs 3]

Seeds N active subscribers (bench.send's seed) in a throw-away schema and gives them 30
zones round robin (one reader in 31 keeps none: the default zone), then freezes the same
three-brief campaign alternately at once and "at 07:00 local time", deleting the rows between
runs, and prints each median and their ratio (the issue's bar: within 20 %).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from datetime import time as clock_time

from sqlalchemy import text

from bench.send import ROOT, SECRET, SLUGS, drop_schema, scratch_schema, seed
from campaigns.freeze import freeze_campaign
from campaigns.service import CampaignDraft, create_campaign, set_local_time
from newsletter.briefs.importer import import_briefs
from newsletter.config import Settings
from newsletter.db import Database, open_database

ZONES = (
    "Pacific/Honolulu", "America/Anchorage", "America/Los_Angeles", "America/Denver",
    "America/Chicago", "America/New_York", "America/Sao_Paulo", "Atlantic/Azores",
    "Europe/London", "Europe/Berlin", "Europe/Athens", "Europe/Moscow", "Asia/Dubai",
    "Asia/Karachi", "Asia/Kolkata", "Asia/Kathmandu", "Asia/Dhaka", "Asia/Bangkok",
    "Asia/Shanghai", "Asia/Tokyo", "Australia/Adelaide", "Australia/Sydney",
    "Pacific/Auckland", "Pacific/Kiritimati", "Africa/Lagos", "Africa/Nairobi",
    "America/Mexico_City", "America/Bogota", "America/St_Johns", "Asia/Tehran",
)  # fmt: skip


def spread_zones(database: Database) -> None:
    with database.transaction() as session:
        session.execute(
            text("UPDATE subscribers SET time_zone = (CAST(:zones AS text[]))[1 + id % 31]"),
            {"zones": list(ZONES)},  # index 31 is past the array's end: NULL, the default
        )
    with database.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE subscribers"))


def freeze_once(database: Database, settings: Settings, local: bool) -> float:
    with database.transaction() as session:
        campaign_id = create_campaign(session, CampaignDraft("Bench", list(SLUGS))).id
        if local:
            set_local_time(session, campaign_id, clock_time(7, 0))
    started = time.perf_counter()
    freeze_campaign(database, campaign_id, settings)
    elapsed = time.perf_counter() - started
    with database.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("DELETE FROM deliveries"))
        conn.execute(text("VACUUM ANALYZE deliveries"))
    return elapsed


def measure(size: int, runs: int, postgres: str) -> None:
    schema, url = scratch_schema(postgres)
    try:
        database = open_database(url)
        import_briefs(database, [ROOT / "examples" / "briefs"], mark_ready=True)
        print(f"N = {size:,}: seed {seed(database, size):.1f} s", flush=True)
        spread_zones(database)
        settings = Settings(database_url=url, secret_key=SECRET)
        times: dict[bool, list[float]] = {False: [], True: []}
        for _ in range(runs):
            for local in (False, True):
                times[local].append(freeze_once(database, settings, local))
        at_once, at_local = statistics.median(times[False]), statistics.median(times[True])
        print(
            f"  freeze at once: {at_once:.2f} s, at local time over {len(ZONES)} zones: "
            f"{at_local:.2f} s (medians of {runs}); ratio {at_local / at_once:.2f}",
            flush=True,
        )
        database.dispose()
    finally:
        drop_schema(postgres, schema)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100000", help="Comma-separated reader counts.")
    parser.add_argument("--runs", type=int, default=3, help="Freezes of each kind (median).")
    parser.add_argument(
        "--postgres",
        default=os.environ.get(
            "NEWSLETTER_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
        ),
    )
    args = parser.parse_args()
    for size in (int(s) for s in args.sizes.split(",")):
        measure(size, args.runs, args.postgres)


if __name__ == "__main__":
    main()
