"""A scheduler and send worker in a background thread, for the one-process set-up.

``newsletter serve`` starts one (``NEWSLETTER_SERVE_WORKER``, on by default), so that with
the embedded defaults a campaign the editor schedules or sends "now" really goes out without
a second process. It is :func:`campaigns.sending.run_worker` with ``schedule=True`` in a
daemon thread: it starts campaigns that fall due, then sends every campaign that is sending,
and looks again every ``NEWSLETTER_WORKER_POLL_SECONDS``.

If the loop fails (the provider cannot be configured, the database is away), the error is
logged and the loop starts again after a pause, rather than the thread dying silently while
the editor shows campaigns that never move. Production turns it off and runs
``newsletter worker --schedule`` processes instead (several, against PostgreSQL).
"""

from __future__ import annotations

import logging
import threading

from campaigns.sending import run_worker
from newsletter.config import Settings
from newsletter.db import Database

log = logging.getLogger(__name__)


class BackgroundWorker:
    """``run_worker(schedule=True)`` in a thread; :meth:`stop` finishes the batches in flight."""

    def __init__(self, database: Database, settings: Settings) -> None:
        self.database = database
        self.settings = settings
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="newsletter-worker", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float | None = 60.0) -> None:
        self._stop.set()
        self._thread.join(timeout)

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                run_worker(self.database, self.settings, stop=self._stop, schedule=True)
            except Exception:
                log.exception(
                    "the background send worker failed; it tries again in %.0f s",
                    self.settings.worker_poll_seconds,
                )
                self._stop.wait(self.settings.worker_poll_seconds)
