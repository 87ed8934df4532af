"""A webhook receiver on loopback that answers from a script: a status code, a pause
longer than the sender waits (a timeout), or an answer dripped a byte at a time (each byte
sooner than a read times out, the whole far later); it keeps every request it was sent."""

from __future__ import annotations

import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.smtp_server import Certificate, make_certificate

TIMEOUT = "timeout"
DRIP = "drip"  # 200 and its headers at once, then the body a byte every `drip_every`
DRIP_HEADERS = "drip-headers"  # the status line and headers themselves a byte at a time


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """The base URL, what to answer next (then 200 for ever), and what arrived."""

    url: str
    script: list[int | str] = field(default_factory=list)
    received: list[Received] = field(default_factory=list)
    pause: float = 1.5  # a "timeout" answer waits this long (tests set a shorter timeout)
    delay: float = 0.0  # every answer waits this long (to make concurrent senders overlap)
    drip_every: float = 0.2  # a dripped answer's pause between bytes
    drip_bytes: int = 40  # how long a dripped body (or dripped header value) is
    lock: threading.Lock = field(default_factory=threading.Lock)

    def next_answer(self) -> int | str:
        with self.lock:
            return self.script.pop(0) if self.script else 200


def _handler(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            with receiver.lock:
                receiver.received.append(
                    Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                )
            answer = receiver.next_answer()
            time.sleep(receiver.delay)
            if answer == TIMEOUT:
                time.sleep(receiver.pause)
                answer = 200
            if answer == DRIP:
                self.send_response(200)
                self.send_header("Content-Length", str(receiver.drip_bytes))
                self.end_headers()
                self._drip(b"x" * receiver.drip_bytes)
                return
            if answer == DRIP_HEADERS:
                slow = b"x" * receiver.drip_bytes
                self._drip(b"HTTP/1.1 200 OK\r\nX-Slow: " + slow + b"\r\nContent-Length: 0\r\n\r\n")
                return
            text = f"answer {answer} <b>from the receiver</b>".encode()
            self.send_response(int(answer))
            self.send_header("Content-Length", str(len(text)))
            self.end_headers()
            self.wfile.write(text)

        def _drip(self, data: bytes) -> None:
            for byte in data:
                self.wfile.write(bytes([byte]))
                self.wfile.flush()
                time.sleep(receiver.drip_every)

        def log_message(self, *_: Any) -> None:
            pass

    return Handler


class _Server(ThreadingHTTPServer):
    request_queue_size = 128  # senders post in parallel: the default backlog of 5 refuses some
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A sender that timed out has hung up: writing its answer fails, as it should."""


@contextmanager
def _running(tls: ssl.SSLContext | None = None) -> Iterator[Receiver]:
    server = _Server(("127.0.0.1", 0), _handler(Receiver("")))
    scheme = "http"
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
        scheme = "https"
    found = Receiver(f"{scheme}://127.0.0.1:{server.server_address[1]}/hooks")
    server.RequestHandlerClass = _handler(found)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield found
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with _running() as found:
        yield found


@pytest.fixture
def certificate(tmp_path: Path) -> Certificate:
    """A self-signed certificate for 127.0.0.1 (trusted by no one unless a test says so)."""
    return make_certificate(tmp_path)


@pytest.fixture
def https_receiver(certificate: Certificate) -> Iterator[Receiver]:
    """The same receiver behind TLS, at ``https://127.0.0.1:PORT/hooks``."""
    with _running(certificate.server_context()) as found:
        yield found
