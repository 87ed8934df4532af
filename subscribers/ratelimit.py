"""A per-client rate limit for signups (token bucket, in this process's memory).

In-process is right for the embedded default and for one server process. With several
processes (``newsletter serve --workers N``, or several hosts) each keeps its own buckets,
so a client gets up to N times the limit: a multi-process deployment should enforce the
limit where all requests pass (the reverse proxy, e.g. nginx ``limit_req``) or in a shared
store such as Redis, keeping this one as a second line.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable

from starlette.requests import Request


class ClientRateLimiter:
    """Allows ``limit`` hits per ``period`` seconds per key, refilled continuously.

    ``limit == 0`` disables it. Memory stays bounded: buckets that have refilled completely
    carry no information and are dropped when the table grows past ``max_keys``.
    """

    def __init__(
        self,
        limit: int,
        period: float,
        *,
        max_keys: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limit = limit
        self.period = period
        self._rate = limit / period if limit else 0.0
        self._max_keys = max_keys
        self._clock = clock
        self._lock = threading.Lock()
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, last time)

    def hit(self, key: str) -> float | None:
        """Take one token for ``key``: ``None`` if allowed, else seconds until one is free."""
        if not self.limit:
            return None
        now = self._clock()
        with self._lock:
            tokens, last = self._buckets.get(key, (float(self.limit), now))
            tokens = min(float(self.limit), tokens + (now - last) * self._rate)
            if tokens < 1.0:
                self._buckets[key] = (tokens, now)
                return (1.0 - tokens) / self._rate
            self._buckets[key] = (tokens - 1.0, now)
            if len(self._buckets) > self._max_keys:
                self._prune(now)
        return None

    @staticmethod
    def retry_after_header(seconds: float) -> str:
        """``Retry-After`` is whole seconds; round up so a client that obeys is let in."""
        return str(max(1, math.ceil(seconds)))

    def _prune(self, now: float) -> None:
        full = [
            key
            for key, (tokens, last) in self._buckets.items()
            if tokens + (now - last) * self._rate >= self.limit
        ]
        for key in full:
            del self._buckets[key]


def client_ip(request: Request) -> str | None:
    """The client's address, as recorded with consent and counted by limits. The app
    believes ``X-Forwarded-For`` only from the proxies in ``NEWSLETTER_FORWARDED_ALLOW_IPS``
    (``newsletter.web.app`` installs that), so this is the peer's own address unless a
    trusted proxy named another; ``None`` when the server was not told one."""
    return request.client.host if request.client else None


def client_address(request: Request) -> str:
    """The address a request counts under (``-`` for all requests without one)."""
    return client_ip(request) or "-"
