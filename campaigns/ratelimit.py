"""A thread-safe token bucket: at most N messages per second to a provider, bursts bounded."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class SendRateLimiter:
    """Blocks callers so that on average no more than ``rate`` units pass per second.

    ``rate`` of ``None`` means unlimited. A request larger than the burst is allowed to
    borrow (the bucket goes negative), so a 1,000-recipient batch under a 500/s limit waits
    two seconds in total rather than forever.
    """

    def __init__(
        self,
        rate: float | None,
        *,
        burst: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if rate is not None and rate <= 0:
            raise ValueError("rate must be positive (or None for no limit)")
        self.rate = rate
        self.burst = burst if burst is not None else (rate or 0.0)
        self._tokens = self.burst
        self._clock = clock
        self._sleep = sleep
        self._last = clock()
        self._lock = threading.Lock()

    def acquire(self, units: float = 1.0) -> float:
        """Take ``units``; returns the seconds waited."""
        if self.rate is None:
            return 0.0
        with self._lock:
            now = self._clock()
            self._tokens = min(self.burst, self._tokens + (now - self._last) * self.rate)
            self._last = now
            self._tokens -= units
            wait = -self._tokens / self.rate if self._tokens < 0 else 0.0
        if wait > 0:
            self._sleep(wait)
        return wait
