"""The end-to-end half of ``bench.smtp``: a frozen campaign sent to smtp-sink, with its journal.

A throw-away database (a SQLite file, or a scratch schema on ``NEWSLETTER_TEST_POSTGRES_URL``)
gets the example briefs and N subscribers; a three-brief campaign is frozen for the SMTP
provider with VERP return paths, then sent in this process by ``send_campaign`` (what
``newsletter send`` runs). Timed: the dispatch only (not the seeding or the freeze), and
inside it every write of the delivery store's ``record`` (the acceptance journal and the
batch's final results): wall time and the writing thread's CPU time.
"""

from __future__ import annotations

import os
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from bench.send import drop_schema, scratch_schema
from campaigns.freeze import freeze_campaign
from campaigns.sending import send_campaign
from campaigns.store import SqlDeliveryStore
from newsletter.config import Settings
from newsletter.db import open_database
from newsletter.deliverability.dkim import generate_key, write_private_key
from newsletter.delivery.base import RecipientResult
from tests.campaigns.helpers import add_subscribers, import_examples, new_campaign

if TYPE_CHECKING:
    from bench.smtp import Sink

SECRET = "bench-secret-key-0123456789abcdef"
POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


@contextmanager
def scratch_database(kind: str) -> Iterator[str]:
    """The URL of an empty database of ``kind`` (sqlite or postgresql), removed afterwards."""
    if kind == "sqlite":
        with tempfile.TemporaryDirectory() as folder:
            yield f"sqlite:///{folder}/bench.db"
        return
    if kind != "postgresql":
        raise SystemExit(f"--dispatch takes sqlite and/or postgresql, not {kind!r}")
    base = os.environ.get("NEWSLETTER_TEST_POSTGRES_URL", POSTGRES)
    schema, url = scratch_schema(base)
    try:
        yield url
    finally:
        drop_schema(base, schema)


class RecordTimer:
    """Wraps ``SqlDeliveryStore.record`` for one run: its calls, rows and wall time."""

    def __init__(self) -> None:
        self.calls = 0
        self.rows = 0
        self.seconds = 0.0
        self.cpu = 0.0  # the calling threads' CPU time in the calls
        self._lock = threading.Lock()
        self._original = SqlDeliveryStore.record

    def __enter__(self) -> RecordTimer:
        original, timer = self._original, self

        def record(store: SqlDeliveryStore, results: Sequence[RecipientResult]) -> None:
            started, cpu = time.perf_counter(), time.thread_time()
            original(store, results)
            with timer._lock:
                timer.calls += 1
                timer.rows += len(results)
                timer.seconds += time.perf_counter() - started
                timer.cpu += time.thread_time() - cpu

        SqlDeliveryStore.record = record  # type: ignore[method-assign,assignment]
        return self

    def __exit__(self, *exc: object) -> None:
        SqlDeliveryStore.record = self._original  # type: ignore[method-assign]


def signing(folder: str) -> dict[str, object]:
    """DKIM settings with a fresh key in ``folder`` (every message then signed)."""
    key = Path(folder) / "dkim.pem"
    write_private_key(key, generate_key())
    return {
        "from_email": "briefing@news.example.org",
        "dkim_domain": "news.example.org",
        "dkim_selector": "bench",
        "dkim_key_file": key,
    }


def dispatch_run(sink: Sink, kind: str, recipients: int, *, dkim: bool = False) -> dict[str, float]:
    """Send one campaign of ``recipients`` to the sink (signed with ``dkim``); its figures."""
    with scratch_database(kind) as url, tempfile.TemporaryDirectory() as folder:
        database = open_database(url)
        try:
            import_examples(database)
            add_subscribers(database, recipients)
            settings = Settings(
                database_url=url,
                provider="smtp",
                smtp_url=sink.url,
                secret_key=SECRET,
                public_url="https://news.example.org",
                postal_address="1 Bench Street, Testville",
                bounce_domain="bounces.news.example.org",
                **(signing(folder) if dkim else {}),  # type: ignore[arg-type]
            )
            campaign_id = new_campaign(database)
            freeze_campaign(database, campaign_id, settings)
            before = sink.messages()
            with RecordTimer() as timer:
                started, cpu = time.perf_counter(), time.process_time()
                result = send_campaign(database, settings, campaign_id)
                elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
        finally:
            database.dispose()
    if result.counts != {"sent": recipients}:
        raise SystemExit(f"expected {recipients} sent, the database says {result.counts}")
    sink.expect(before, recipients)
    return {
        "messages/s": recipients / elapsed,
        "CPU per message, whole process (µs)": cpu / recipients * 1e6,
        "store writes (record calls) per 1,000 messages": timer.calls / recipients * 1000,
        "store write time per message (µs)": timer.seconds / recipients * 1e6,
        "store write CPU per message (µs)": timer.cpu / recipients * 1e6,
    }
