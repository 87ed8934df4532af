"""Web pages on loopback that answer as the web does: for link checks (tests/fakes)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest


class _Pages(BaseHTTPRequestHandler):
    """/ok 200, /gone 404, /robots 403 to everything, /nohead 405 to HEAD but 200 to GET,
    /slow answers after 3 s, /loop redirects to itself, /boom 500."""

    def do_HEAD(self) -> None:
        self._answer(head=True)

    def do_GET(self) -> None:
        self._answer(head=False)

    def _answer(self, *, head: bool) -> None:
        path = self.path.split("?")[0]
        if path == "/slow":
            time.sleep(3)
        if path == "/loop":
            self.send_response(302)
            self.send_header("Location", "/loop")
        else:
            codes = {"/gone": 404, "/robots": 403, "/boom": 500}
            code = 405 if path == "/nohead" and head else codes.get(path, 200)
            self.send_response(code if path != "/slow" else 200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *_: Any) -> None:
        pass


@pytest.fixture(scope="module")
def pages() -> Iterator[str]:
    """The base URL of a :class:`_Pages` server for the module's tests."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Pages)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
