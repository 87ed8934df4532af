"""A request-body size limit for the whole app, enforced before any route reads the body.

The body is read here (up to the limit) and handed to the app from memory, so an oversized
or lying request gets a clean ``413`` instead of an error half-way through a route. Every
body this app accepts is a small form or JSON document, so holding it in memory is cheap;
the few paths that take more (a provider's webhook batches) get their own, larger limit.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence

from starlette.types import ASGIApp, Message, Receive, Scope, Send

_NO_BODY = frozenset({"GET", "HEAD", "OPTIONS", "DELETE"})


class BodySizeLimit:
    """``max_bytes`` for every path, except the exact paths in ``larger`` (path → bytes) that
    accept more: the webhook's batches, the editor's brief upload; and paths matching one of
    ``larger_matching`` (a regular expression matched at the path's start, bytes), the first
    that matches: the brief edit forms, whose paths name the brief, and ``/api/v1`` (briefs,
    bulk adds)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        max_bytes: int,
        larger: Mapping[str, int] | None = None,
        larger_matching: Sequence[tuple[str, int]] = (),
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.larger = dict(larger or {})
        self.matching = [(re.compile(pattern), limit) for pattern, limit in larger_matching]

    def limit_for(self, path: str) -> int:
        if path in self.larger:
            return self.larger[path]
        for pattern, limit in self.matching:
            if pattern.match(path):
                return limit
        return self.max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in _NO_BODY:
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope["path"])
        declared = _content_length(scope)
        if declared == -1:
            await _refuse(send, 400, "the Content-Length header is not a number")
            return
        if declared is not None and declared > limit:
            await _refuse(send, 413, f"the request body is larger than {limit} bytes")
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                await _refuse(send, 413, f"the request body is larger than {limit} bytes")
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        delivered = False

        async def replay() -> Message:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return -1
    return None


async def _refuse(send: Send, status: int, detail: str) -> None:
    payload = json.dumps({"detail": detail}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})
