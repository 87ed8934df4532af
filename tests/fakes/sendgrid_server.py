"""A fake SendGrid v3 mail-send API on loopback, strict like the real one, with faults on cue.

In-process (the ``sendgrid_server`` fixture)::

    fake = FakeSendGrid().start()           # fake.url → http://127.0.0.1:PORT
    fake.fail_next(429, count=2)            # then 500/503 …, fake.drop_next(), latency …
    fake.accepted                           # every accepted request, with its X-Message-Id
    fake.recipient_counts()                 # each to-address → times accepted

As a process of its own (benchmarks, tests with several worker processes)::

    python -m tests.fakes.sendgrid_server --port 0 --latency-ms 50 --no-schema --no-record

It prints ``FAKE_SENDGRID_URL=http://127.0.0.1:PORT`` once listening, and answers control
requests (no auth): ``GET /__fake__/stats``, ``GET /__fake__/accepted[?brief=1]``,
``POST /__fake__/config`` (a JSON object of :class:`Faults` fields), ``POST
/__fake__/fail-next`` (``{"status": 500, "count": 2, "message": …}``), ``POST /__fake__/drop-next``
(``{"count": 1, "accept": true}``), ``POST /__fake__/reset``. :class:`FakeSendGridProcess`
starts it and wraps those endpoints.

Mail send, in order: the 30 MB body limit (413), ``Authorization: Bearer <key>`` (401
missing or unknown, 403 for a forbidden key), the next scripted or random fault, JSON,
the rules of :mod:`tests.fakes.sendgrid_rules` (400 with SendGrid's error list), sandbox mode
(200, nothing recorded), else 202 with ``X-Message-Id``. The configured latency delays every
answer *after* the request was recorded, so a client that times out leaves an accepted
request behind: exactly the ambiguous case.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections import Counter, deque
from dataclasses import asdict, dataclass, field, fields, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import orjson

from tests.fakes.sendgrid_rules import MAX_BODY_BYTES, error, rule_errors, schema_errors

DEFAULT_KEY = "SG.fake-test-key"
FORBIDDEN_KEY = "SG.fake-forbidden-key"
RATE_LIMIT = 600


@dataclass
class Faults:
    """What goes wrong, and how slowly; change it any time (``configure``)."""

    latency_ms: float = 0.0
    failure_rate: float = 0.0  # this fraction of mail-send requests fails …
    failure_statuses: tuple[int, ...] = (429, 500)  # … with one of these, picked at random
    seed: int | None = None
    rate_limit_reset_s: int = 1  # a 429's X-RateLimit-Reset is now + this
    check_schema: bool = True  # the JSON schema; the hand-written rules always apply
    record: bool = True  # keep accepted requests (a long benchmark only counts them)
    # Check the rules (and schema) on every n-th mail-send request only: the benchmark's
    # fake shares the two cores with the worker it measures, which real SendGrid does not.
    check_every: int = 1


@dataclass(frozen=True)
class Accepted:
    """One accepted mail-send request: its id, the request body as sent, and when it was
    accepted (``time.time()``: rates across processes are measured from it)."""

    message_id: str
    body: dict[str, Any]
    at: float = 0.0

    @property
    def personalizations(self) -> list[dict[str, Any]]:
        return list(self.body["personalizations"])


@dataclass
class _Scripted:
    kind: str  # "status" or "drop"
    status: int = 0
    headers: dict[str, str | None] = field(default_factory=dict)
    accept: bool = True
    message: str | None = None


class FakeSendGrid:
    """The fake server in a background thread; start() returns self, stop() at the end."""

    def __init__(
        self,
        *,
        port: int = 0,
        api_keys: tuple[str, ...] = (DEFAULT_KEY,),
        forbidden_keys: tuple[str, ...] = (FORBIDDEN_KEY,),
        faults: Faults | None = None,
    ) -> None:
        self.port = port
        self.api_keys = frozenset(api_keys)
        self.forbidden_keys = frozenset(forbidden_keys)
        self.faults = faults or Faults()
        self._initial = replace(self.faults)
        self.accepted: list[Accepted] = []
        self._lock = threading.Lock()
        self._script: deque[_Scripted] = deque()
        self._random = random.Random(self.faults.seed)
        self._stats: Counter[str] = Counter()
        self._httpd: _Server | None = None
        self._thread: threading.Thread | None = None

    # lifecycle

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> FakeSendGrid:
        self._httpd = _Server(("127.0.0.1", self.port), _Handler)
        self._httpd.fake = self
        self.port = self._httpd.server_address[1]
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None

    def refuse_connections(self) -> None:
        """Stop listening (connections are refused) but keep the port for accept_connections."""
        self.stop()

    def accept_connections(self) -> None:
        self.start()

    def __enter__(self) -> FakeSendGrid:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # faults

    def configure(self, **changes: Any) -> None:
        """Change :class:`Faults` fields, e.g. ``configure(latency_ms=50, failure_rate=0.2)``."""
        known = {f.name for f in fields(Faults)}
        unknown = set(changes) - known
        if unknown:
            raise ValueError(f"unknown fault settings {sorted(unknown)}")
        with self._lock:
            for name, value in changes.items():
                setattr(self.faults, name, tuple(value) if name == "failure_statuses" else value)
            if "seed" in changes:
                self._random = random.Random(changes["seed"])

    def fail_next(
        self,
        status: int,
        count: int = 1,
        headers: dict[str, str | None] | None = None,
        message: str | None = None,
    ) -> None:
        """Answer the next ``count`` mail sends with ``status`` (429 gets rate-limit headers).

        ``headers`` adds or (with ``None``) removes response headers, e.g. a 429 with only
        ``Retry-After``; ``message`` replaces the error text (say, a realistic 400 reason).
        """
        with self._lock:
            for _ in range(count):
                scripted = _Scripted("status", status, dict(headers or {}), message=message)
                self._script.append(scripted)

    def drop_next(self, count: int = 1, *, accept: bool = True) -> None:
        """Close the next ``count`` connections without an answer, having accepted (or not)."""
        with self._lock:
            for _ in range(count):
                self._script.append(_Scripted("drop", accept=accept))

    def reset(self) -> None:
        """Forget accepted requests, statistics and scripted faults; faults as at the start."""
        with self._lock:
            self.accepted.clear()
            self._script.clear()
            self._stats.clear()
            self.faults = replace(self._initial)
            self._random = random.Random(self.faults.seed)

    # what happened

    def stats(self) -> dict[str, int]:
        with self._lock:
            return dict(self._stats)

    def personalizations(self) -> list[tuple[str, dict[str, Any]]]:
        """Every accepted personalization with its request's X-Message-Id."""
        with self._lock:
            return [(a.message_id, p) for a in self.accepted for p in a.personalizations]

    def recipient_counts(self) -> Counter[str]:
        """Each accepted to/cc/bcc address (lower case) → how many times it was accepted."""
        counts: Counter[str] = Counter()
        for _, item in self.personalizations():
            for kind in ("to", "cc", "bcc"):
                counts.update(a["email"].lower() for a in item.get(kind, ()))
        return counts

    def accepted_summary(self, brief: bool = False) -> list[dict[str, Any]]:
        """Accepted personalizations as JSON-ready rows (``brief``: to and custom_args only)."""
        rows = []
        for message_id, item in self.personalizations():
            row: dict[str, Any] = {
                "message_id": message_id,
                "to": [a["email"] for a in item.get("to", ())],
                "custom_args": item.get("custom_args", {}),
            }
            if not brief:
                row["substitutions"] = item.get("substitutions", {})
                row["headers"] = item.get("headers", {})
            rows.append(row)
        return rows

    # the mail-send endpoint (runs in a handler thread)

    def _next_fault(self) -> _Scripted | None:
        with self._lock:
            if self._script:
                return self._script.popleft()
            faults = self.faults
            if faults.failure_rate and self._random.random() < faults.failure_rate:
                return _Scripted("status", self._random.choice(faults.failure_statuses))
        return None

    def _count(self, *names: str, by: int = 1) -> None:
        with self._lock:
            for name in names:
                self._stats[name] += by

    def _should_check(self) -> bool:
        with self._lock:
            self._stats["requests"] += 1
            return (self._stats["requests"] - 1) % max(1, self.faults.check_every) == 0

    def handle_mail_send(self, request: _Handler) -> None:
        check = self._should_check()
        length = int(request.headers.get("Content-Length") or 0)
        if length > MAX_BODY_BYTES:
            request.drain(length)
            return request.reply_errors(413, [error("content too large", None)])
        raw = request.rfile.read(length)
        auth = request.headers.get("Authorization", "")
        key = auth[len("Bearer ") :] if auth.startswith("Bearer ") else None
        if not key:
            return request.reply_errors(401, [error("authorization required", None)])
        if key in self.forbidden_keys:
            return request.reply_errors(403, [error("access forbidden", None)])
        if key not in self.api_keys:
            message = "The provided authorization grant is invalid, expired, or revoked"
            return request.reply_errors(401, [error(message, None)])
        media_type = (request.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if media_type != "application/json":
            message = "Content-Type should be application/json"
            return request.reply_errors(415, [error(message, None)])
        fault = self._next_fault()
        if fault is not None and fault.kind == "status":
            return self._fail(request, fault)
        if fault is not None and not fault.accept:
            return request.drop()
        try:
            body = orjson.loads(raw)
        except ValueError:
            return request.reply_errors(400, [error("Bad Request", None)])
        if not isinstance(body, dict):
            return request.reply_errors(400, [error("Bad Request", None)])
        problems = rule_errors(body, time.time()) if check else []
        if not problems and check and self.faults.check_schema:
            problems = schema_errors(body)
        if problems:
            self._count("rejected")
            return request.reply_errors(400, problems)
        settings = body.get("mail_settings") or {}
        if (settings.get("sandbox_mode") or {}).get("enable") is True:
            self._count("sandbox")
            return request.reply(200, b"", {})
        message_id = secrets.token_urlsafe(16)
        self._record(message_id, body)
        if fault is not None:
            return request.drop()
        request.reply(202, b"", {"X-Message-Id": message_id})

    def _record(self, message_id: str, body: dict[str, Any]) -> None:
        with self._lock:
            self._stats["accepted_requests"] += 1
            self._stats["accepted_personalizations"] += len(body["personalizations"])
            if self.faults.record:
                self.accepted.append(Accepted(message_id, body, time.time()))

    def _fail(self, request: _Handler, fault: _Scripted) -> None:
        self._count(f"failed_{fault.status}")
        headers: dict[str, str | None] = {}
        if fault.status == 429:
            reset = int(time.time()) + self.faults.rate_limit_reset_s
            headers = {
                "X-RateLimit-Limit": str(RATE_LIMIT),
                "X-RateLimit-Remaining": "0",
                "X-RateLimit-Reset": str(reset),
            }
            problems = [error("too many requests", None)]
        elif fault.status >= 500:
            problems = [error("internal server error", None)]
        else:
            problems = [error("Bad Request", None)]
        if fault.message:
            problems = [error(fault.message, None)]
        headers.update(fault.headers)
        request.reply_errors(fault.status, problems, {k: v for k, v in headers.items() if v})

    def handle_control(self, request: _Handler, method: str) -> None:
        path = urlsplit(request.path)
        query = parse_qs(path.query)
        if method == "GET" and path.path == "/__fake__/stats":
            return request.reply_json(200, self.stats())
        if method == "GET" and path.path == "/__fake__/accepted":
            return request.reply_json(200, self.accepted_summary(brief="brief" in query))
        length = int(request.headers.get("Content-Length") or 0)
        options = json.loads(request.rfile.read(length) or b"{}") if method == "POST" else {}
        if path.path == "/__fake__/config":
            self.configure(**options)
            return request.reply_json(200, asdict(self.faults))
        if path.path == "/__fake__/fail-next":
            self.fail_next(
                int(options["status"]),
                int(options.get("count", 1)),
                options.get("headers"),
                options.get("message"),
            )
            return request.reply_json(200, {})
        if path.path == "/__fake__/drop-next":
            self.drop_next(int(options.get("count", 1)), accept=bool(options.get("accept", True)))
            return request.reply_json(200, {})
        if path.path == "/__fake__/reset":
            self.reset()
            return request.reply_json(200, {})
        return request.reply_errors(404, [error("not found", None)])


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256
    fake: FakeSendGrid


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def do_POST(self) -> None:
        if self.path.split("?")[0] == "/v3/mail/send":
            self.server.fake.handle_mail_send(self)
        elif self.path.startswith("/__fake__/"):
            self.server.fake.handle_control(self, "POST")
        else:
            self.reply_errors(404, [error("not found", None)])

    def do_GET(self) -> None:
        if self.path.startswith("/__fake__/"):
            self.server.fake.handle_control(self, "GET")
        elif self.path.split("?")[0] == "/v3/mail/send":
            self.reply_errors(405, [error("method not allowed", None)])
        else:
            self.reply_errors(404, [error("not found", None)])

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: tests and benchmarks make thousands of requests."""

    def _delay(self) -> None:
        latency = self.server.fake.faults.latency_ms
        if latency:
            time.sleep(latency / 1000)

    def reply(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        self._delay()
        try:
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except OSError:  # the client gave up (its timeout): nothing to answer any more
            self.close_connection = True

    def reply_json(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        body = json.dumps(payload).encode("utf-8")
        self.reply(status, body, {"Content-Type": "application/json", **(headers or {})})

    def reply_errors(
        self, status: int, problems: list[dict[str, Any]], headers: dict[str, Any] | None = None
    ) -> None:
        self.reply_json(status, {"errors": problems}, headers)

    def drop(self) -> None:
        """Close the connection without a word (after the configured latency)."""
        self._delay()
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    def drain(self, length: int) -> None:
        """Read and discard a body too large to keep, so the client can read our 413."""
        remaining = length
        while remaining > 0:
            chunk = self.rfile.read(min(remaining, 1 << 20))
            if not chunk:
                break
            remaining -= len(chunk)


class FakeSendGridProcess:
    """The fake server as a separate process (no GIL shared with the code under test)."""

    def __init__(self, *args: str) -> None:
        command = [sys.executable, "-m", "tests.fakes.sendgrid_server", "--port", "0", *args]
        root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        self._process = subprocess.Popen(command, cwd=root, stdout=subprocess.PIPE, text=True)
        assert self._process.stdout is not None
        line = self._process.stdout.readline().strip()
        if not line.startswith("FAKE_SENDGRID_URL="):
            self._process.kill()
            raise RuntimeError(f"the fake SendGrid server did not start: {line!r}")
        self.url = line.split("=", 1)[1]
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    def _call(self, path: str, payload: dict[str, Any] | None = None) -> Any:
        data = None if payload is None else json.dumps(payload).encode("utf-8")
        request = urllib.request.Request(
            self.url + path, data=data, method="GET" if data is None else "POST"
        )
        with self._opener.open(request, timeout=30) as response:
            return json.loads(response.read())

    def stats(self) -> dict[str, int]:
        return dict(self._call("/__fake__/stats"))

    def accepted(self, brief: bool = True) -> list[dict[str, Any]]:
        return list(self._call("/__fake__/accepted" + ("?brief=1" if brief else "")))

    def recipient_counts(self) -> Counter[str]:
        """Each accepted to-address (lower case) → how many times it was accepted."""
        return Counter(email.lower() for row in self.accepted() for email in row["to"])

    def configure(self, **changes: Any) -> dict[str, Any]:
        return dict(self._call("/__fake__/config", changes))

    def fail_next(self, status: int, count: int = 1, message: str | None = None) -> None:
        self._call("/__fake__/fail-next", {"status": status, "count": count, "message": message})

    def drop_next(self, count: int = 1, *, accept: bool = True) -> None:
        self._call("/__fake__/drop-next", {"count": count, "accept": accept})

    def reset(self) -> None:
        self._call("/__fake__/reset", {})

    def stop(self) -> None:
        self._process.send_signal(signal.SIGTERM)
        try:
            self._process.wait(10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        if self._process.stdout is not None:
            self._process.stdout.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Fake SendGrid v3 mail-send API on loopback.")
    parser.add_argument("--port", type=int, default=0, help="0: any free port (printed)")
    parser.add_argument("--api-key", action="append", default=None, help="accepted key(s)")
    parser.add_argument("--forbidden-key", action="append", default=None, help="403 key(s)")
    parser.add_argument("--latency-ms", type=float, default=0.0)
    parser.add_argument("--failure-rate", type=float, default=0.0)
    parser.add_argument("--failure-statuses", default="429,500", help="comma-separated")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--no-schema", action="store_true", help="skip the JSON schema check")
    parser.add_argument("--no-record", action="store_true", help="count, do not keep, requests")
    parser.add_argument(
        "--check-every", type=int, default=1, help="check the API rules on every n-th request"
    )
    options = parser.parse_args(argv)
    faults = Faults(
        latency_ms=options.latency_ms,
        failure_rate=options.failure_rate,
        failure_statuses=tuple(int(s) for s in options.failure_statuses.split(",")),
        seed=options.seed,
        check_schema=not options.no_schema,
        record=not options.no_record,
        check_every=options.check_every,
    )
    fake = FakeSendGrid(
        port=options.port,
        api_keys=tuple(options.api_key or [DEFAULT_KEY]),
        forbidden_keys=tuple(options.forbidden_key or [FORBIDDEN_KEY]),
        faults=faults,
    ).start()
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    signal.signal(signal.SIGINT, lambda *_: stopped.set())
    print(f"FAKE_SENDGRID_URL={fake.url}", flush=True)
    while not stopped.wait(0.5):
        pass
    fake.stop()


if __name__ == "__main__":
    main()
