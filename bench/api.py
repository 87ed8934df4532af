"""What ``/api/v1`` costs: a key's check per request, and bulk adds of 1,000 people.

    .venv/bin/python bench/api.py [--runs 5] [--people 1000]

Runs the app in process (Starlette's test client: no network, the whole route otherwise)
on a throw-away SQLite file and, when ``NEWSLETTER_TEST_POSTGRES_URL`` is set, in a
throw-away PostgreSQL schema. Prints, per backend, the median and range over ``--runs``:
``GET /api/v1/briefs`` with a key (the key's check is one indexed lookup and a SHA-256;
the nine example briefs listed with their warnings), and the same request refused for a
malformed key (no database work: what an unauthenticated flood costs); one
``POST /api/v1/subscribers/bulk`` of ``--people`` new people, double opt-in and confirmed.
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from newsletter.apikeys.keys import SCOPES, create_key
from newsletter.briefs.importer import import_briefs
from newsletter.config import Settings
from newsletter.db import open_database
from newsletter.web.app import create_app

ROOT = Path(__file__).resolve().parent.parent
SECRET = "bench-secret-key-0123456789abcdef0123"


def backends() -> Iterator[tuple[str, str]]:
    with tempfile.TemporaryDirectory() as folder:
        urls = [("sqlite", f"sqlite:///{folder}/bench.db")]
        admin_url = os.environ.get("NEWSLETTER_TEST_POSTGRES_URL", "")
        schema = f"bench_{uuid.uuid4().hex[:10]}"
        admin = create_engine(admin_url, isolation_level="AUTOCOMMIT") if admin_url else None
        if admin is not None:
            with admin.connect() as connection:
                connection.execute(text(f'CREATE SCHEMA "{schema}"'))
            url = make_url(admin_url).update_query_dict({"options": f"-csearch_path={schema}"})
            urls.append(("postgresql", url.render_as_string(hide_password=False)))
        try:
            yield from urls
        finally:
            if admin is not None:
                with admin.connect() as connection:
                    connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
                admin.dispose()


def timed(work: Callable[[], object], runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return times


def shown(times: list[float], unit: float, suffix: str) -> str:
    values = [t * unit for t in times]
    return f"{statistics.median(values):.2f} {suffix} ({min(values):.2f}–{max(values):.2f})"


def bench(name: str, url: str, runs: int, people: int) -> None:
    database = open_database(url)
    import_briefs(database, [ROOT / "examples" / "briefs"], mark_ready=True)
    settings = Settings(
        database_url=url,
        secret_key=SECRET,
        public_url="http://127.0.0.1",
        topics=["economy"],
        api_bulk_max_subscribers=max(people, 1000),
        api_max_body_bytes=max(1_100_000, people * 200),
    )
    with database.transaction() as session:
        key = create_key(session, "bench", SCOPES, created_by="bench", rate_limit=0).secret
    with TestClient(create_app(settings, database=database)) as http:
        headers = {"Authorization": f"Bearer {key}"}
        assert http.get("/api/v1/briefs", headers=headers).status_code == 200
        requests = 200

        def keyed() -> None:
            for _ in range(requests):
                http.get("/api/v1/briefs", headers=headers)

        per = 1000 / requests
        print(f"{name}: GET /api/v1/briefs, per request: {shown(timed(keyed, runs), per, 'ms')}")
        bad = {"Authorization": "Bearer nope"}

        def refused() -> None:
            for _ in range(requests):
                http.get("/api/v1/briefs", headers=bad)

        took = shown(timed(refused, runs), per, "ms")
        print(f"{name}: refused (malformed key), per request: {took}")
        batch = iter(range(10_000))

        def bulk(confirmed: bool) -> Callable[[], object]:
            def post() -> None:
                n = next(batch)
                body = {
                    "confirmed": confirmed,
                    "subscribers": [
                        {"email": f"b{n}r{i}@example.org", "source": "bench", "topics": ["economy"]}
                        for i in range(people)
                    ],
                }
                answer = http.post("/api/v1/subscribers/bulk", json=body, headers=headers)
                assert answer.status_code == 200, answer.text[:300]

            return post

        for confirmed in (False, True):
            kind = "confirmed" if confirmed else "double opt-in"
            took = shown(timed(bulk(confirmed), runs), 1000, "ms")
            print(f"{name}: bulk add of {people} ({kind}): {took}")
    database.dispose()


def main() -> None:
    logging.getLogger("newsletter.web.api").setLevel(logging.ERROR)  # the refused requests
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--people", type=int, default=1000)
    args = parser.parse_args()
    for name, url in backends():
        bench(name, url, args.runs, args.people)


if __name__ == "__main__":
    main()
