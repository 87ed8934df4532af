"""The acceptance journal: each message a relay accepted is written ``sent`` soon, in groups.

A provider that answers per message (SMTP) reports each acceptance as the relay says 250
(``Batch.on_accepted``), so that a worker killed mid-batch has recorded what was accepted
and leaves only the messages in flight ``unknown``. One transaction per acceptance cost
more than the message itself (``docs/benchmarks.md``, SMTP against smtp-sink); here a
writer thread commits the acceptances in groups: at most one commit per ``interval``
(20 ms), each taking whatever arrived since the previous one, so the sender goes on
meanwhile and a commit's fixed cost is shared (an acceptance after a quiet spell is
written at once).

The trade-off: a worker killed mid-batch also leaves ``unknown`` the acceptances not yet
committed: those of the last ``interval`` and of the commit in progress, never more than
``limit`` (the sender waits when that many are unwritten). ``unknown`` is the safe state
(never resent automatically; settled by the relay's bounces and our tracking), the one the
message in flight was always in. Nothing is lost when the process lives: :meth:`drain`
waits for every write and raises a failed one, and a failed write stops the sender at its
next acceptance.

One journal serves all the lanes of a worker's dispatch (:class:`~campaigns.dispatch.Dispatcher`
makes it per run): with one per lane, four lanes on PostgreSQL committed groups of about four
rows each, and the commits cost more than the messages. Each batch accepts through its own
:class:`BatchAcceptances`, which knows the keys of that batch only.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence

from newsletter.delivery.base import RecipientResult

Write = Callable[[Sequence[RecipientResult]], None]


class AcceptanceJournal:
    """Acceptances of a worker's batches, written by a thread of its own (started at the
    first); thread-safe, so the lanes share it."""

    def __init__(self, write: Write, *, limit: int = 256, interval: float = 0.02) -> None:
        self._write = write
        self._limit = max(1, limit)
        self._interval = interval
        self._queue: list[RecipientResult] = []
        self._in_flight = 0  # acceptances in the write under way: they count to ``limit``
        self._closed = False
        self._draining = 0  # callers waiting in drain: write now, do not gather
        self._error: BaseException | None = None
        self._changed = threading.Condition()
        self._thread: threading.Thread | None = None
        self._accepted = 0  # acceptances queued so far
        self._written = 0  # of which written (groups are written in order)

    def batch(self) -> BatchAcceptances:
        """A view for one batch's acceptances (its ``Batch.on_accepted``)."""
        return BatchAcceptances(self)

    def accept(self, result: RecipientResult) -> None:
        """The relay accepted ``result``: queue it for the writer (``Batch.on_accepted``)."""
        with self._changed:
            while len(self._queue) + self._in_flight >= self._limit and self._error is None:
                self._changed.wait()
            self._raise_failure()
            self._queue.append(result)
            self._accepted += 1
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="acceptance-journal", daemon=True
                )
                self._thread.start()
            queued = len(self._queue)  # wake the writer only for what it waits for: a first
            if queued in (1, (self._limit + 1) // 2):  # row, or half the backlog (waking it
                self._changed.notify_all()  # for every row cost a thread switch a message)

    def drain(self) -> None:
        """Return once every acceptance so far is written (not those that other lanes add
        meanwhile); raise if a write failed."""
        with self._changed:
            self._draining += 1
            self._changed.notify_all()
            target = self._accepted
            try:
                while self._written < target and self._error is None:
                    self._changed.wait()
            finally:
                self._draining -= 1
            self._raise_failure()

    def close(self) -> None:
        """Write what is queued (if the writer still can), then stop the writer."""
        with self._changed:
            self._closed = True
            self._changed.notify_all()
        if self._thread is not None:
            self._thread.join()

    def _run(self) -> None:
        last = -self._interval  # when the previous write started
        while True:
            with self._changed:
                while not self._queue and not self._closed:
                    self._changed.wait()
                if not self._queue:
                    return
                self._gather(last + self._interval)
                group, self._queue = self._queue, []
                self._in_flight = len(group)
            last = time.monotonic()
            try:
                self._write(group)
            except BaseException as exc:  # handed to the sender's thread by accept / drain
                with self._changed:
                    self._error, self._in_flight = exc, 0
                    self._changed.notify_all()
                return
            with self._changed:
                self._in_flight = 0
                self._written += len(group)
                self._changed.notify_all()  # room for more again

    def _gather(self, until: float) -> None:
        """Let acceptances gather until ``until`` (at most one write per ``interval``),
        unless someone waits for them or half the backlog is there (lock held)."""
        while not (self._closed or self._draining or len(self._queue) * 2 >= self._limit):
            remaining = until - time.monotonic()
            if remaining <= 0:
                return
            self._changed.wait(remaining)

    def _raise_failure(self) -> None:
        if self._error is not None:
            raise JournalError(f"recording accepted messages failed: {self._error}") from (
                self._error
            )


class BatchAcceptances:
    """One batch's acceptances, through the worker's shared :class:`AcceptanceJournal`."""

    __slots__ = ("_journal", "keys")

    def __init__(self, journal: AcceptanceJournal) -> None:
        self._journal = journal
        self.keys: set[str] = set()
        """The batch's keys accepted so far, written or on their way: their final record is
        not needed (:meth:`~campaigns.dispatch.Dispatcher._record` skips them)."""

    def accept(self, result: RecipientResult) -> None:
        """The relay accepted ``result`` (``Batch.on_accepted``); raises ``JournalError``
        once a write has failed."""
        self._journal.accept(result)
        self.keys.add(result.key)


class JournalError(RuntimeError):
    """A write of the acceptance journal failed: the rows it held are still ``sending``."""
