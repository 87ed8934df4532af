"""Dispatch: claim batches of recipients, hand them to the provider, record every outcome.

The dispatcher depends on two small protocols it declares here (listmonk's pattern: the
pipeline owns its interfaces): a :class:`DeliveryStore` (claims and records rows; the SQL
implementation is :mod:`campaigns.store`) and a :class:`BatchFactory` (turns a claim into a
provider :class:`~newsletter.delivery.base.Batch` and names the provider its variant was
frozen with; a worker that cannot make that provider pauses the campaign). Several *lanes*
(threads) run the claim → send → record loop at once, so provider latency does not set
throughput; a shared :class:`~campaigns.ratelimit.SendRateLimiter` caps messages per second
per worker, and an optional :class:`SendGate` (limits shared by all workers, the warm-up,
the delivery window: :mod:`campaigns.shaping`) is asked before each claim and request.

Outcomes, by what the provider said:

- accepted → ``sent`` (with its message id); refused for one recipient → ``failed``; a
  provider that answers per message (SMTP) reports each acceptance as it comes
  (``Batch.on_accepted``), and the row is ``sent`` within milliseconds
  (:mod:`campaigns.journal`);
- retryable (429, 5xx, connection refused) → retried with backoff (honouring the provider's
  reset time), and after the last try put back in the queue and the campaign paused;
- rejected (400) → the batch's rows ``failed`` with the provider's reasons;
- credentials refused (401/403) → rows back in the queue, campaign paused with the reason;
- ambiguous (timeout after sending) → ``unknown``: settled by the provider's events, or
  resent after a quarantine only if the campaign allows it (:mod:`campaigns.unknowns`).

Before any request: a batch whose frozen provider this worker cannot make (its settings lack
the credentials) → rows back in the queue, campaign paused with the missing setting.
"""

from __future__ import annotations

import contextlib
import logging
import random
import threading
import time
from collections.abc import Callable, Collection, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from enum import StrEnum
from functools import partial
from typing import Literal, NamedTuple, Protocol

from campaigns.journal import AcceptanceJournal, JournalError
from campaigns.ratelimit import SendRateLimiter
from campaigns.states import DeliveryStatus
from newsletter.delivery.base import Batch, Provider, RecipientResult, RecipientStatus
from newsletter.errors import (
    ConfigurationError,
    DeliveryError,
    ProviderAmbiguous,
    ProviderAuthError,
    ProviderRejected,
    ProviderRetryable,
)

log = logging.getLogger(__name__)

SettledStatus = Literal[DeliveryStatus.QUEUED, DeliveryStatus.FAILED, DeliveryStatus.UNKNOWN]
"""Where :meth:`Dispatcher._settle` puts rows the provider did not accept."""


class Outcome(StrEnum):
    """What the dispatcher does after a failed request."""

    RETRY = "retry"  # the same rows again, after a backoff
    NEXT_BATCH = "next-batch"  # these rows are settled; go on with the campaign
    STOP = "stop"  # the campaign is paused: this dispatcher stops


class ClaimedRecipient(NamedTuple):
    """One claimed row: the delivery and the subscriber it is for (a named tuple: a
    claim makes a thousand, and tuples are the cheapest immutable records)."""

    delivery_id: int
    subscriber_uid: str
    email: str
    name: str | None


@dataclass(frozen=True)
class Claim:
    """Rows of one variant, marked ``sending`` (and committed) by one worker."""

    campaign_id: int
    variant_id: int
    recipients: tuple[ClaimedRecipient, ...]

    @property
    def keys(self) -> frozenset[str]:
        return frozenset(str(r.delivery_id) for r in self.recipients)


class DeliveryStore(Protocol):
    """Where delivery rows live; every method commits its own change."""

    def claim(self, campaign_id: int, limit: int) -> Claim | None:
        """Up to ``limit`` queued rows of one variant, now ``sending``; None when none are
        left or the campaign is no longer sending."""
        ...

    def extend_lease(self, claim: Claim) -> None: ...

    def record(self, results: Sequence[RecipientResult]) -> None:
        """Store the provider's per-recipient answers (``sent``/``failed``)."""
        ...

    def requeue(self, keys: Collection[str], reason: str) -> None:
        """The provider did not accept these: back to ``queued``."""
        ...

    def fail(self, keys: Collection[str], reason: str) -> None: ...

    def mark_unknown(self, keys: Collection[str], reason: str) -> None: ...

    def pause(self, campaign_id: int, reason: str) -> None: ...


class ReadyBatch(NamedTuple):
    """A claim made ready to send: the provider its variant was frozen with, and the batch."""

    provider: Provider
    batch: Batch


class Admission(NamedTuple):
    """A gate's answer to "may I send n now?": ``allowed`` after ``wait`` seconds; 0 allowed
    means nothing before ``wait`` seconds have passed (a quota is spent until then).
    ``taken_at`` is the gate's own time when it took them from its quotas: rows given back
    go back to the windows they were taken from (not to a later hour's)."""

    allowed: int
    wait: float
    taken_at: float | None = None


class SendGate(Protocol):
    """Limits shared with other workers (:class:`campaigns.shaping.SendShaper`): asked
    before each claim for quotas and windows (no row is held while waiting for those), and
    before each provider request for the per-second limit (a short wait)."""

    def batch(self, largest: int) -> int:
        """How many rows to ask for at a time (less than ``largest`` under a rate)."""
        ...

    def admit(self, want: int) -> Admission:
        """Before a claim: quotas, and rates whose waits may be long (a delivery window)."""
        ...

    def give_back(self, count: int, taken_at: float | None = None) -> None:
        """Admitted rows that were not sent: the claim did not find them, or they went back
        to the queue (nothing reached a provider, or it kept refusing). ``taken_at``: the
        admission's."""
        ...

    def pace(self, count: int) -> float:
        """Right before a provider request of ``count``: the seconds to wait for a short-step
        rate (a per-second limit). Booked only when the batch is ready, so that a lane slow
        to build its batch cannot bunch up with the next one and burst past the limit."""
        ...


class BatchFactory(Protocol):
    def batch(self, claim: Claim) -> ReadyBatch:
        """The claim's messages and provider; ``ConfigurationError`` if that provider
        cannot be made here (never another one instead)."""
        ...


@dataclass(frozen=True)
class RetryPolicy:
    """How long to keep trying a batch the provider refused for now."""

    attempts: int = 6
    base_delay: float = 1.0
    max_delay: float = 60.0

    def delay(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(max(float(retry_after), 0.0), self.max_delay)
        backoff = self.base_delay * 2.0 ** (attempt - 1)
        return min(backoff * (0.5 + random.random() / 2), self.max_delay)


@dataclass
class DispatchStats:
    """What one dispatcher run did (counts of rows, by outcome)."""

    sent: int = 0
    failed: int = 0
    unknown: int = 0
    requeued: int = 0
    batches: int = 0
    retries: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add(self, **counts: int) -> None:
        with self._lock:
            for name, value in counts.items():
                setattr(self, name, getattr(self, name) + value)

    def absorb(self, other: DispatchStats) -> None:
        """Add another run's counts to these."""
        self.add(**{name: getattr(other, name) for name in _COUNTS})

    def plus(self, other: DispatchStats) -> DispatchStats:
        """These counts and another run's, as a new record."""
        both = DispatchStats()
        both.absorb(self)
        both.absorb(other)
        return both


_COUNTS = ("sent", "failed", "unknown", "requeued", "batches", "retries")
ProgressCallback = Callable[[DispatchStats], None]
GiveBack = Callable[[int], None]
"""Gives a count of admitted rows back to the gate's quotas (``SendGate.give_back``)."""


class Dispatcher:
    """Sends one campaign's queued rows through their provider, several batches in flight."""

    def __init__(
        self,
        store: DeliveryStore,
        factory: BatchFactory,
        *,
        lanes: int = 4,
        batch_size: int = 1000,
        rate: SendRateLimiter | None = None,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        hold_wait: float = 60.0,
    ) -> None:
        self.store = store
        self.factory = factory
        self.lanes = max(1, lanes)
        self.batch_size = max(1, batch_size)
        self.rate = rate or SendRateLimiter(None)
        self.retry = retry or RetryPolicy()
        self._sleep = sleep
        self.hold_wait = hold_wait

    def run(
        self,
        campaign_id: int,
        *,
        stop: threading.Event | None = None,
        progress: ProgressCallback | None = None,
        gate: SendGate | None = None,
    ) -> DispatchStats:
        """Send until nothing is queued, the campaign stops sending, or ``stop`` is set;
        with a ``gate``, also until it holds the campaign longer than ``hold_wait``."""
        outside = stop or threading.Event()
        halt = threading.Event()  # this campaign must stop (paused); the caller's stop is theirs

        def stopped() -> bool:
            return outside.is_set() or halt.is_set()

        stats = DispatchStats()
        # One acceptance journal for all lanes: its group commits gather every lane's rows.
        journal = AcceptanceJournal(self.store.record)
        lane = partial(self._lane, campaign_id, stopped, halt, stats, progress, gate, journal)
        try:
            if self.lanes == 1:
                lane()
                return stats
            with ThreadPoolExecutor(self.lanes, thread_name_prefix="dispatch") as pool:
                for future in [pool.submit(lane) for _ in range(self.lanes)]:
                    future.result()
            return stats
        finally:
            journal.close()

    def _lane(
        self,
        campaign_id: int,
        stopped: Callable[[], bool],
        halt: threading.Event,
        stats: DispatchStats,
        progress: ProgressCallback | None,
        gate: SendGate | None,
        journal: AcceptanceJournal,
    ) -> None:
        size = gate.batch(self.batch_size) if gate is not None else self.batch_size
        while not stopped():
            admitted, give_back = size, None
            if gate is not None:
                admission = self._admitted(gate, size, stopped)
                if admission is None:
                    return
                admitted = admission.allowed
                give_back = partial(gate.give_back, taken_at=admission.taken_at)
            claim = self.store.claim(campaign_id, admitted)
            if give_back is not None:
                give_back(admitted - (len(claim.recipients) if claim is not None else 0))
            if claim is None:
                return
            if not claim.recipients:  # rows taken by another worker, or all skipped
                continue
            if not self._deliver(claim, stats, gate, journal, give_back):
                halt.set()
            stats.add(batches=1)
            if progress is not None:
                progress(stats)

    def _admitted(self, gate: SendGate, want: int, stopped: Callable[[], bool]) -> Admission | None:
        """What the gate lets through, after its wait; None when it holds the campaign
        longer than ``hold_wait`` (the lane leaves it to a later round) or ``stopped``."""
        while not stopped():
            admission = gate.admit(want)
            if admission.allowed == 0 and admission.wait > self.hold_wait:
                return None
            self._wait(admission.wait, stopped)
            if admission.allowed and stopped():
                gate.give_back(admission.allowed, admission.taken_at)
            elif admission.allowed:
                return admission
        return None

    def _wait(self, seconds: float, stopped: Callable[[], bool]) -> None:
        """Sleep ``seconds``, in short steps so that a stop is not kept waiting."""
        deadline = time.monotonic() + seconds
        while not stopped():
            left = deadline - time.monotonic()
            if left <= 0:
                return
            self._sleep(min(left, 0.5))

    def _deliver(
        self,
        claim: Claim,
        stats: DispatchStats,
        gate: SendGate | None,
        journal: AcceptanceJournal,
        give_back: GiveBack | None = None,
    ) -> bool:
        """One claimed batch to its end state; False when the campaign must stop. Rows that
        go back to the queue go back to the gate's quotas too (``give_back``)."""
        try:
            provider, batch = self.factory.batch(claim)
        except ConfigurationError as exc:  # the frozen provider is not available here
            reason = f"this worker cannot send campaign {claim.campaign_id}: {exc}"
            reason += "; fix its settings, then resume"
            return self._hold(claim, reason, stats, give_back)
        except Exception as exc:  # nothing reached the provider: safe to put back
            log.exception("building batch of campaign %s failed", claim.campaign_id)
            return self._hold(claim, f"could not build the messages: {exc}", stats, give_back)
        # A provider that answers per message (SMTP) reports each acceptance: its row is
        # written ``sent`` soon (group commits, campaigns/journal.py), so a worker killed
        # mid-batch leaves only what was in flight ``unknown``, not the whole batch.
        accepted = journal.batch()
        batch = replace(batch, on_accepted=accepted.accept)
        journaled = accepted.keys
        attempt = 0
        pending = set(claim.keys)
        while True:
            attempt += 1
            self.rate.acquire(len(pending))
            wait = gate.pace(len(pending)) if gate is not None else 0.0
            if wait > 0:  # the shared per-second limit, booked when the batch is ready
                self._sleep(wait)
            try:
                results = provider.send(_only(batch, pending))
                journal.drain()
            except DeliveryError as exc:
                try:
                    journal.drain()
                except JournalError as failed:
                    return self._crashed(claim, pending, failed, stats, journal, provider.name)
                if exc.settled:
                    self._record(exc.settled, stats, journaled)
                    pending -= {r.key for r in exc.settled}
                outcome = self._on_error(
                    claim, pending, exc, attempt, stats, provider.name, give_back
                )
                if outcome is Outcome.RETRY:
                    continue
                return outcome is Outcome.NEXT_BATCH
            except Exception as exc:  # a bug after the request may have left: ambiguous
                return self._crashed(claim, pending, exc, stats, journal, provider.name)
            self._record(results, stats, journaled)
            return True

    def _crashed(
        self,
        claim: Claim,
        pending: Collection[str],
        exc: Exception,
        stats: DispatchStats,
        journal: AcceptanceJournal,
        provider: str,
    ) -> bool:
        """A bug, or a failed journal write, after the request may have left: the rows not
        recorded are ambiguous, the campaign pauses with the reason."""
        with contextlib.suppress(JournalError):  # what was accepted is written first
            journal.drain()
        log.exception("provider %s crashed", provider, exc_info=exc)
        reason = f"unexpected error while sending ({type(exc).__name__}: {exc})"
        self._settle(claim, pending, DeliveryStatus.UNKNOWN, reason, stats, pause=reason)
        return False

    def _hold(
        self, claim: Claim, reason: str, stats: DispatchStats, give_back: GiveBack | None
    ) -> bool:
        """Nothing reached a provider: the rows go back to the queue (and to the gate's
        quotas), the campaign pauses."""
        self._put_back(claim, claim.keys, reason, stats, reason, give_back)
        return False

    def _record(
        self,
        results: Sequence[RecipientResult],
        stats: DispatchStats,
        journaled: Collection[str] = (),
    ) -> None:
        """Store the results not recorded already (``journaled``) and count them all."""
        unrecorded = [r for r in results if r.key not in journaled] if journaled else results
        if unrecorded:
            self.store.record(unrecorded)
        sent = sum(1 for r in results if r.status == RecipientStatus.SENT)
        stats.add(sent=sent, failed=len(results) - sent)

    def _on_error(
        self,
        claim: Claim,
        pending: set[str],
        exc: DeliveryError,
        attempt: int,
        stats: DispatchStats,
        provider: str,
        give_back: GiveBack | None = None,
    ) -> Outcome:
        """What to do after a failed request, by the error's class (see the module's list);
        rows put back in the queue are given back to the gate's quotas."""
        if not pending:
            return Outcome.NEXT_BATCH
        if isinstance(exc, ProviderRetryable):
            if attempt < self.retry.attempts:
                stats.add(retries=1)
                self.store.extend_lease(claim)
                self._sleep(self.retry.delay(attempt, exc.retry_after))
                return Outcome.RETRY
            reason = f"{provider} kept refusing for now after {attempt} tries: {exc}"
            pause = reason + "; resume when it is back"
            return self._put_back(claim, pending, reason, stats, pause, give_back)
        if isinstance(exc, ProviderRejected):
            reason = f"{provider} rejected the request: {'; '.join(exc.reasons) or exc}"
            return self._settle(claim, pending, DeliveryStatus.FAILED, reason, stats)
        if isinstance(exc, ProviderAuthError):
            reason = f"{provider} refused our credentials: {exc}; fix them, then resume"
            return self._put_back(claim, pending, reason, stats, reason, give_back)
        if isinstance(exc, ProviderAmbiguous):
            reason = f"{provider} outcome unknown: {exc}"
            return self._settle(claim, pending, DeliveryStatus.UNKNOWN, reason, stats)
        reason = f"{provider} failed: {exc}"
        return self._settle(claim, pending, DeliveryStatus.UNKNOWN, reason, stats, pause=reason)

    def _put_back(
        self,
        claim: Claim,
        keys: Collection[str],
        reason: str,
        stats: DispatchStats,
        pause: str,
        give_back: GiveBack | None,
    ) -> Outcome:
        """Rows not sent go back to the queue, and their quota to the gate; the campaign
        pauses with ``pause``."""
        queued: SettledStatus = DeliveryStatus.QUEUED
        return self._settle(claim, keys, queued, reason, stats, pause=pause, give_back=give_back)

    def _settle(
        self,
        claim: Claim,
        keys: Collection[str],
        status: SettledStatus,
        reason: str,
        stats: DispatchStats,
        *,
        pause: str | None = None,
        give_back: GiveBack | None = None,
    ) -> Outcome:
        """Rows the provider did not (knowingly) accept, to ``status`` with ``reason``; with
        ``pause``, the campaign pauses saying so and this dispatcher stops. Rows back in the
        queue were not sent: their quota is given back (``give_back``), so that a send
        resumed after an outage may still use it."""
        if status is DeliveryStatus.QUEUED:
            self.store.requeue(keys, reason)
            stats.add(requeued=len(keys))
            if give_back is not None:
                give_back(len(keys))
        elif status is DeliveryStatus.FAILED:
            self.store.fail(keys, reason)
            stats.add(failed=len(keys))
        else:
            self.store.mark_unknown(keys, reason)
            stats.add(unknown=len(keys))
        if pause is None:
            return Outcome.NEXT_BATCH
        self.store.pause(claim.campaign_id, pause)
        return Outcome.STOP


def _only(batch: Batch, keys: Collection[str]) -> Batch:
    """The batch restricted to ``keys`` (after a partial failure), or itself."""
    if len(keys) == len(batch.recipients):
        return batch
    return replace(batch, recipients=[r for r in batch.recipients if r.key in keys])
