"""A webhook receiver on loopback that answers from a script: a status code, or a pause
longer than the sender waits (a timeout); it keeps every request it was sent."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

TIMEOUT = "timeout"


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
            text = f"answer {answer} <b>from the receiver</b>".encode()
            self.send_response(int(answer))
            self.send_header("Content-Length", str(len(text)))
            self.end_headers()
            self.wfile.write(text)

        def log_message(self, *_: Any) -> None:
            pass

    return Handler


class _Server(ThreadingHTTPServer):
    request_queue_size = 128  # senders post in parallel: the default backlog of 5 refuses some
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A sender that timed out has hung up: writing its answer fails, as it should."""


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = _Server(("127.0.0.1", 0), _handler(Receiver("")))
    found = Receiver(f"http://127.0.0.1:{server.server_address[1]}/hooks")
    server.RequestHandlerClass = _handler(found)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield found
    server.shutdown()
    server.server_close()
