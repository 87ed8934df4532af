"""The acceptance journal: each message a relay accepted is written ``sent`` soon, in groups.

A provider that answers per message (SMTP) reports each acceptance as the relay says 250
(``Batch.on_accepted``), so that a worker killed mid-batch has recorded what was accepted
and leaves only the messages in flight ``unknown``. One transaction per acceptance cost
more than the message itself (``docs/benchmarks.md``, SMTP against smtp-sink); here a
writer thread commits whatever acceptances arrived while its previous commit ran (group
commit). When the database keeps up, each acceptance is written alone and at once, as
before; when it does not, groups grow and the sender goes on meanwhile.

The trade-off: a worker killed mid-batch also leaves ``unknown`` the acceptances not yet
committed, at most ``limit`` (the sender waits when that many are unwritten) and in
practice those of one commit's duration. ``unknown`` is the safe state (never resent
automatically; settled by the relay's bounces and our tracking), the one the message in
flight was always in. Nothing is lost when the process lives: :meth:`drain` waits for every
write and raises a failed one, and a failed write stops the sender at its next acceptance.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence

from newsletter.delivery.base import RecipientResult

Write = Callable[[Sequence[RecipientResult]], None]


class AcceptanceJournal:
    """Acceptances of one batch, written by a thread of its own (started at the first)."""

    def __init__(self, write: Write, *, limit: int = 256) -> None:
        self._write = write
        self._limit = max(1, limit)
        self._queue: list[RecipientResult] = []
        self._writing = False
        self._closed = False
        self._error: BaseException | None = None
        self._changed = threading.Condition()
        self._thread: threading.Thread | None = None
        self.keys: set[str] = set()
        """Every key accepted so far, written or on its way: its final record is not
        needed (:meth:`~campaigns.dispatch.Dispatcher._record` skips them)."""

    def accept(self, result: RecipientResult) -> None:
        """The relay accepted ``result``: queue it for the writer (``Batch.on_accepted``)."""
        with self._changed:
            while len(self._queue) >= self._limit and self._error is None:
                self._changed.wait()
            self._raise_failure()
            self._queue.append(result)
            self.keys.add(result.key)
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="acceptance-journal", daemon=True
                )
                self._thread.start()
            self._changed.notify_all()

    def drain(self) -> None:
        """Return once every acceptance so far is written; raise if a write failed."""
        with self._changed:
            while (self._queue or self._writing) and self._error is None:
                self._changed.wait()
            self._raise_failure()

    def close(self) -> None:
        """Write what is queued (if the writer still can), then stop the writer."""
        with self._changed:
            self._closed = True
            self._changed.notify_all()
        if self._thread is not None:
            self._thread.join()

    def _run(self) -> None:
        while True:
            with self._changed:
                while not self._queue and not self._closed:
                    self._changed.wait()
                if not self._queue:
                    return
                group, self._queue = self._queue, []
                self._writing = True
                self._changed.notify_all()  # room in the queue again
            try:
                self._write(group)
            except BaseException as exc:  # handed to the sender's thread by accept / drain
                with self._changed:
                    self._error, self._writing = exc, False
                    self._changed.notify_all()
                return
            with self._changed:
                self._writing = False
                self._changed.notify_all()

    def _raise_failure(self) -> None:
        if self._error is not None:
            raise JournalError(f"recording accepted messages failed: {self._error}") from (
                self._error
            )


class JournalError(RuntimeError):
    """A write of the acceptance journal failed: the rows it held are still ``sending``."""
