"""Who calls ``/api/v1``: the ``Authorization: Bearer`` key, its scopes and its rate limit.

Only the header counts: the API reads no cookie, so a browser's editor session can never
act here (and no CSRF token is needed), and the editor API reads no key. A refusal is JSON
that says what is missing: ``401`` without a known, unrevoked key (with
``WWW-Authenticate: Bearer``), ``403`` naming the scope the key lacks (``missing_scope``),
``429`` with ``Retry-After`` when the key's requests a minute are used up.

Each key's limit is kept in the database (:func:`newsletter.apikeys.keys.take_request`,
in the same transaction as the key check), so every server process shares it.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, TypeVar, cast

from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from newsletter.apikeys.keys import (
    KeyCheck,
    KeyHolder,
    KeyRefusal,
    Scope,
    check_key,
    form_refusal,
)
from newsletter.config import Settings
from newsletter.db import Database
from subscribers.ratelimit import ClientRateLimiter

log = logging.getLogger("newsletter.web.api")
T = TypeVar("T")

bearer = HTTPBearer(
    auto_error=False,
    scheme_name="ApiKey",
    description="An API key made with `newsletter apikeys create` or the editor's admin pages.",
)

_REFUSALS = {
    KeyRefusal.MISSING: "no API key: send it as the header 'Authorization: Bearer <key>'",
    KeyRefusal.MALFORMED: "this is not an API key (they look like nlk_0123abcd_…)",
    KeyRefusal.UNKNOWN: "unknown API key",
    KeyRefusal.REVOKED: "this API key was revoked on {at:%Y-%m-%d %H:%M} UTC",
}


class ApiRefused(Exception):
    """A request ``/api/v1`` will not serve: answered as JSON by :func:`install_refusals`."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        missing_scope: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.status = status
        self.detail = detail
        self.missing_scope = missing_scope
        self.headers = headers or {}
        super().__init__(detail)


@dataclass(frozen=True)
class ApiSite:
    """What every ``/api/v1`` route shares (kept on ``app.state.api_v1``)."""

    settings: Settings
    database: Database

    async def run(self, work: Callable[[Session], T]) -> T:
        return await run_in_threadpool(self._transaction, work)

    def _transaction(self, work: Callable[[Session], T]) -> T:
        with self.database.transaction() as session:
            return work(session)


def api_site(request: Request) -> ApiSite:
    return cast(ApiSite, request.app.state.api_v1)


Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]


def require(scope: Scope) -> Callable[[Request, Credentials], Awaitable[KeyHolder]]:
    """Dependency: the request's key, which must hold ``scope``."""

    async def holder_with_scope(request: Request, credentials: Credentials) -> KeyHolder:
        holder = await authenticated(request, credentials)
        if scope not in holder.scopes:
            raise ApiRefused(
                403,
                f"the API key {holder.name!r} lacks the scope {scope.value!r}",
                missing_scope=scope.value,
            )
        return holder

    return holder_with_scope


async def authenticated(request: Request, credentials: Credentials) -> KeyHolder:
    site = api_site(request)
    presented = credentials.credentials if credentials is not None else None
    refusal = form_refusal(presented)  # not a key at all: no database work
    if refusal is not None:
        checked = KeyCheck(None, refusal)
    else:
        checked = await site.run(lambda session: check_key(session, presented))
    if checked.holder is None:
        refusal = checked.refusal or KeyRefusal.UNKNOWN
        if refusal is not KeyRefusal.MISSING:
            log.warning("API request refused: %s key", refusal.value)
        raise ApiRefused(
            401,
            _REFUSALS[refusal].format(at=checked.revoked_at),
            headers={"WWW-Authenticate": 'Bearer realm="api"'},
        )
    wait = checked.retry_after
    if wait is not None:
        raise ApiRefused(
            429,
            f"the API key {checked.holder.name!r} made more than its "
            f"{checked.holder.rate_limit} requests a minute: wait and retry",
            headers={"Retry-After": ClientRateLimiter.retry_after_header(wait)},
        )
    return checked.holder


def install_refusals(app: FastAPI) -> None:
    async def on_refused(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ApiRefused)
        body: dict[str, str] = {"detail": exc.detail}
        if exc.missing_scope is not None:
            body["missing_scope"] = exc.missing_scope
        headers = {"Cache-Control": "no-store", **exc.headers}
        return JSONResponse(body, status_code=exc.status, headers=headers)

    app.add_exception_handler(ApiRefused, on_refused)
