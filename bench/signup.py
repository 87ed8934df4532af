"""Signup throughput and latency under load, and CSV import time: prints the figures.

    .venv/bin/python bench/signup.py [--duration 10] [--connections 8] [--workers 2]

What it does, all on this machine:
1. creates a throw-away PostgreSQL database (dropped at the end) next to the one in
   ``--admin-url`` (default: ``$NEWSLETTER_TEST_POSTGRES_URL`` or the local ``test``);
2. starts ``newsletter serve --workers N`` on a free loopback port against it (rate limit
   off: the load comes from one address; confirmation sending off: it is not part of the
   request, the mail is only queued);
3. drives ``POST /subscribe`` (JSON, a new address each time) for ``--duration`` seconds with
   ``wrk`` (Debian package) when installed, else with an async httpx client, after a short
   warm-up; prints signups/s and p50/p99 latency, and checks that every accepted signup is a
   row with its consent record and queued mail;
4. imports a generated 100,000-row CSV into a fresh PostgreSQL schema and a SQLite file and
   prints the times.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import re
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL, make_url

from newsletter.db import open_database
from subscribers.csv_io import ImportOptions, import_csv

ROOT = Path(__file__).resolve().parent.parent
NEWSLETTER = Path(sys.executable).with_name("newsletter")

WRK_SCRIPT = """
local counter = 0
local threads = {}
function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end
function init(args)
  prefix = args[1] .. "t" .. tid
end
request = function()
  counter = counter + 1
  local body = '{"email":"' .. prefix .. "n" .. counter ..
    '@example.com","name":"Bench Reader","topics":["europe"]}'
  return wrk.format("POST", "/subscribe", {["Content-Type"] = "application/json"}, body)
end
done = function(summary, latency, requests)
  io.write(string.format("RESULT requests=%d errors=%d p50_us=%d p99_us=%d\\n",
    summary.requests, summary.errors.status + summary.errors.connect + summary.errors.read
      + summary.errors.write + summary.errors.timeout,
    latency:percentile(50), latency:percentile(99)))
end
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def admin_url(value: str | None) -> URL:
    url = (
        value
        or os.environ.get("NEWSLETTER_TEST_POSTGRES_URL")
        or ("postgresql+psycopg://postgres@127.0.0.1:5432/test")
    )
    return make_url(url)


class ThrowAwayDatabase:
    """A PostgreSQL database of its own, created for the run and dropped after it."""

    def __init__(self, admin: URL, prefix: str = "bench_signup") -> None:
        self.name = f"{prefix}_{secrets.token_hex(4)}"
        self.admin = create_engine(admin, isolation_level="AUTOCOMMIT")
        self.url = admin.set(database=self.name)

    def __enter__(self) -> ThrowAwayDatabase:
        with self.admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{self.name}"'))
        open_database(self.url.render_as_string(hide_password=False)).dispose()
        return self

    def __exit__(self, *_: object) -> None:
        with self.admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)'))
        self.admin.dispose()

    def count(self, table: str, what: str = "count(*)") -> int:
        engine = create_engine(self.url)
        with engine.connect() as connection:
            value = connection.execute(text(f"SELECT {what} FROM {table}")).scalar_one()
        engine.dispose()
        return int(value)


def start_server(
    database: URL,
    port: int,
    workers: int,
    workdir: Path,
    extra_env: dict[str, str] | None = None,
) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "NEWSLETTER_DATABASE_URL": database.render_as_string(hide_password=False),
        "NEWSLETTER_SIGNUP_RATE_LIMIT": "0",
        "NEWSLETTER_SECRET_KEY": secrets.token_urlsafe(24),
        "NEWSLETTER_TOPICS": "europe,climate",
        "NEWSLETTER_PUBLIC_URL": f"http://127.0.0.1:{port}",
        **(extra_env or {}),
    }
    command = [str(NEWSLETTER), "serve", "--port", str(port), "--workers", str(workers)]
    server = subprocess.Popen(
        [*command, "--no-send-confirmations"],
        cwd=workdir,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/subscribe", timeout=1).status_code == 200:
                return server
        except httpx.HTTPError:
            time.sleep(0.2)
    stop_server(server)
    raise SystemExit("the server did not start within 30 s")


def stop_server(server: subprocess.Popen[bytes]) -> None:
    os.killpg(server.pid, signal.SIGTERM)  # its own session: the workers go with it
    try:
        server.wait(15)
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait(5)


def run_wrk(
    url: str, seconds: float, connections: int, prefix: str
) -> tuple[int, int, float, float]:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(WRK_SCRIPT)
    try:
        out = subprocess.run(
            [
                "wrk",
                "-t1",
                f"-c{connections}",
                f"-d{int(seconds)}s",
                "-s",
                script.name,
                url,
                "--",
                prefix,
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    finally:
        os.unlink(script.name)
    found = re.search(r"RESULT requests=(\d+) errors=(\d+) p50_us=(\d+) p99_us=(\d+)", out)
    if found is None:
        raise SystemExit(f"could not read wrk's output:\n{out}")
    requests, errors, p50, p99 = map(int, found.groups())
    return requests, errors, p50 / 1000, p99 / 1000


async def _httpx_load(
    url: str, seconds: float, connections: int, prefix: str
) -> tuple[int, int, float, float]:
    latencies: list[float] = []
    errors = 0
    stop = time.monotonic() + seconds
    limits = httpx.Limits(max_connections=connections)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=10) as client:

        async def user(number: int) -> None:
            nonlocal errors
            sent = 0
            while time.monotonic() < stop:
                sent += 1
                body = {"email": f"{prefix}c{number}n{sent}@example.com", "topics": ["europe"]}
                started = time.perf_counter()
                answer = await client.post("/subscribe", json=body)
                latencies.append(time.perf_counter() - started)
                errors += answer.status_code != 202

        await asyncio.gather(*(user(n) for n in range(connections)))
    quantiles = statistics.quantiles(latencies, n=100)
    return len(latencies), errors, quantiles[49] * 1000, quantiles[98] * 1000


def load(url: str, seconds: float, connections: int, prefix: str) -> tuple[int, int, float, float]:
    if shutil.which("wrk"):
        return run_wrk(url, seconds, connections, prefix)
    return asyncio.run(_httpx_load(url, seconds, connections, prefix))


def csv_text(rows: int) -> str:
    out = io.StringIO()
    out.write("email,name,topics,attr.plan\n")
    for i in range(rows):
        out.write(f"reader{i}@example{i % 97}.com,Reader {i},europe;climate,p{i % 3}\n")
    return out.getvalue()


def time_import(url: str, rows: int) -> float:
    database = open_database(url)
    data = csv_text(rows)
    options = ImportOptions(known_topics={"europe", "climate"}, confirmed=True)
    started = time.perf_counter()
    report = import_csv(database, io.StringIO(data), source_name="bench.csv", options=options)
    elapsed = time.perf_counter() - started
    database.dispose()
    if report.imported != rows or report.errors:
        raise SystemExit(f"import went wrong: {report.imported} imported, {report.errors[:3]}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=10.0, help="seconds of measured load")
    parser.add_argument("--connections", type=int, default=8, help="concurrent clients")
    parser.add_argument("--workers", type=int, default=2, help="server processes")
    parser.add_argument("--admin-url", help="PostgreSQL URL allowed to CREATE DATABASE")
    parser.add_argument("--csv-rows", type=int, default=100_000)
    args = parser.parse_args()
    generator = "wrk" if shutil.which("wrk") else "httpx (async, in this process)"
    print(f"machine: {os.cpu_count()} cores; load generator: {generator}")

    with (
        ThrowAwayDatabase(admin_url(args.admin_url)) as database,
        tempfile.TemporaryDirectory() as work,
    ):
        port = free_port()
        server = start_server(database.url, port, args.workers, Path(work))
        url = f"http://127.0.0.1:{port}"
        try:
            load(url, 2, args.connections, f"warm{secrets.token_hex(3)}")
            before = database.count("subscribers")
            requests, errors, p50, p99 = load(
                url, args.duration, args.connections, f"m{secrets.token_hex(3)}"
            )
        finally:
            stop_server(server)
        added = database.count("subscribers") - before
        print(
            f"signups: {requests / args.duration:,.0f}/s over {args.duration:.0f} s "
            f"({args.workers} workers, {args.connections} connections), "
            f"p50 {p50:.1f} ms, p99 {p99:.1f} ms, {errors} errors"
        )
        print(
            f"check: {added} new subscriber rows for {requests - errors} accepted signups "
            f"(up to {args.connections} more: requests still in flight when the clock stopped)"
        )
        queued = database.count("mail_queue")
        consents = database.count("consent_records")
        print(f"check: {queued} queued confirmation mails, {consents} consent records in all")

        schema_url = database.url
        print(f"CSV import, {args.csv_rows:,} rows, PostgreSQL: ", end="", flush=True)
        print(
            f"{time_import(schema_url.render_as_string(hide_password=False), args.csv_rows):.1f} s"
        )
        with tempfile.TemporaryDirectory() as folder:
            sqlite = f"sqlite:///{Path(folder) / 'bench.db'}"
            print(f"CSV import, {args.csv_rows:,} rows, SQLite: ", end="", flush=True)
            print(f"{time_import(sqlite, args.csv_rows):.1f} s")


if __name__ == "__main__":
    main()
