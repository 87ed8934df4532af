"""A deadline for a whole HTTP exchange, which httpx's timeouts (each per socket call) lack.

A receiver that answers one byte every half second never lets a single read wait long
enough to time out, so with httpx's timeouts alone an attempt lasts as long as the receiver
likes. :class:`DeadlineTransport` is httpx's own transport over a network backend whose
every connect, TLS handshake, write and read waits at most until the deadline of the
request in progress (set with :func:`deadline` around it, in the thread that makes it), and
fails as a timeout once it has passed: httpx raises its own ``TimeoutException`` and closes
the connection. Without a deadline set, the per-call timeouts apply as usual.
"""

from __future__ import annotations

import ssl
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import httpcore
import httpx

_DEADLINE: ContextVar[float | None] = ContextVar("http_deadline", default=None)
LIMITS = httpx.Limits(max_connections=100, max_keepalive_connections=20)  # httpx's defaults
_SocketOptions = Iterable[Any] | None


@contextmanager
def deadline(seconds: float) -> Iterator[None]:
    """Requests this thread makes through a :class:`DeadlineTransport` inside the block end
    within ``seconds`` from now, however the other side paces its bytes."""
    token = _DEADLINE.set(time.monotonic() + seconds)
    try:
        yield
    finally:
        _DEADLINE.reset(token)


def _bounded(timeout: float | None, late: type[httpcore.TimeoutException]) -> float | None:
    """``timeout`` cut to what is left until the deadline; ``late`` raised if none is."""
    end = _DEADLINE.get()
    if end is None:
        return timeout
    left = end - time.monotonic()
    if left <= 0:
        raise late("the deadline of the whole request passed")
    return left if timeout is None else min(timeout, left)


class _Stream(httpcore.NetworkStream):
    """A connection whose every call waits at most until the deadline."""

    def __init__(self, stream: httpcore.NetworkStream) -> None:
        self._stream = stream

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._stream.read(max_bytes, _bounded(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._stream.write(buffer, _bounded(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._stream.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        bounded = _bounded(timeout, httpcore.ConnectTimeout)
        return _Stream(self._stream.start_tls(ssl_context, server_hostname, bounded))

    def get_extra_info(self, info: str) -> Any:
        return self._stream.get_extra_info(info)


class _Backend(httpcore.NetworkBackend):
    """httpcore's synchronous backend, its connections wrapped in :class:`_Stream`."""

    def __init__(self) -> None:
        self._backend = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: _SocketOptions = None,
    ) -> httpcore.NetworkStream:
        bounded = _bounded(timeout, httpcore.ConnectTimeout)
        return _Stream(
            self._backend.connect_tcp(host, port, bounded, local_address, socket_options)
        )

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: _SocketOptions = None
    ) -> httpcore.NetworkStream:
        bounded = _bounded(timeout, httpcore.ConnectTimeout)
        return _Stream(self._backend.connect_unix_socket(path, bounded, socket_options))

    def sleep(self, seconds: float) -> None:
        self._backend.sleep(seconds)


class DeadlineTransport(httpx.HTTPTransport):
    """httpx's transport (HTTP/1.1, certificates verified, no proxy from the environment)
    whose connections keep the deadline of :func:`deadline`."""

    def __init__(
        self, *, verify: ssl.SSLContext | None = None, limits: httpx.Limits = LIMITS
    ) -> None:
        """``verify``: the certificates to trust (default: httpx's, the ``certifi`` set)."""
        super().__init__(trust_env=False, limits=limits)
        # The pool httpx builds for itself, but over our network backend (httpx's transport
        # takes no backend of its own; tests/webhooks/test_delivery.py checks that it holds).
        self._pool = httpcore.ConnectionPool(
            ssl_context=verify or httpx.create_ssl_context(trust_env=False),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=_Backend(),
        )
