"""How the web app answers when something goes wrong: typed errors become 4xx, never a trace.

A browser (``Accept: text/html``) gets a page, everything else JSON with a ``detail``. An
unexpected exception is logged with its traceback on the server and answered with a plain
``500`` that reveals nothing; the test suite (schemathesis) makes sure no request gets there.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from starlette.responses import Response
from starlette.templating import Jinja2Templates

from newsletter.errors import (
    ConflictError,
    InvalidInput,
    InvalidToken,
    NewsletterError,
    NotFoundError,
    problem_detail,
)
from newsletter.web.public_headers import allowed_methods

log = logging.getLogger("newsletter.web")

STATUS_OF: dict[type[NewsletterError], int] = {
    InvalidInput: 422,
    InvalidToken: 400,
    NotFoundError: 404,
    ConflictError: 409,
}


def wants_html(request: Request) -> bool:
    return "text/html" in request.headers.get("accept", "")


# A part of the site may show its error pages in its own layout (the editor does): given the
# request, status, message and headers, it returns the page, or None to leave it to us.
ErrorPage = Callable[[Request, int, str, dict[str, str]], Response | None]


def install_error_handlers(
    app: FastAPI, pages: Jinja2Templates, *, error_page: ErrorPage | None = None
) -> None:
    def answer(request: Request, status: int, detail: Any, message: str) -> Response:
        headers = {"Cache-Control": "no-store"}
        if wants_html(request):
            own = None
            if error_page is not None:
                try:
                    own = error_page(request, status, message, headers)
                except Exception:  # the plain page below still answers
                    log.exception("the error page of %s failed", request.url.path)
            if own is not None:
                return own
            return pages.TemplateResponse(
                request,
                "error.html",
                {"status": status, "message": message},
                status_code=status,
                headers=headers,
            )
        return JSONResponse({"detail": detail}, status_code=status, headers=headers)

    async def on_http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        response = answer(request, exc.status_code, exc.detail, str(exc.detail))
        response.headers.update(exc.headers or {})
        if exc.status_code == 405:
            response.headers["Allow"] = allowed_methods(request.app, request.scope)
        return response

    async def on_validation_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        detail = [
            {"loc": list(error["loc"]), "msg": error["msg"], "type": error["type"]}
            for error in exc.errors()
        ]
        return answer(request, 422, detail, "; ".join(str(d["msg"]) for d in detail))

    async def on_newsletter_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, NewsletterError)
        status = next((s for t, s in STATUS_OF.items() if isinstance(exc, t)), 400)
        detail = problem_detail(exc) if isinstance(exc, InvalidInput) else str(exc)
        return answer(request, status, detail, str(exc))

    async def on_unexpected(request: Request, exc: Exception) -> Response:
        log.error("internal error on %s %s", request.method, request.url.path, exc_info=exc)
        message = "Something went wrong on our side. Please try again later."
        return answer(request, 500, "internal error", message)

    app.add_exception_handler(HTTPException, on_http_error)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(NewsletterError, on_newsletter_error)
    app.add_exception_handler(Exception, on_unexpected)
