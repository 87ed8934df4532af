"""The web shell's safety net: an unexpected error is logged and answered without a trace."""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from newsletter.config import Settings
from newsletter.db import Database
from newsletter.web.app import create_app


def _call(app: object, path: str, headers: dict[str, str]) -> httpx.Response:
    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)  # type: ignore[arg-type]
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return await client.get(path, headers=headers)

    # A thread of its own: the browser tests' Playwright keeps an event loop in this one.
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, go()).result()


def test_an_internal_error_reveals_nothing_and_is_logged(
    db: Database, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    app = create_app(Settings(outbox=tmp_path / "outbox"), database=db)

    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError("secret connection string postgres://admin:hunter2@db")

    with caplog.at_level(logging.ERROR, logger="newsletter.web"):
        as_json = _call(app, "/boom", {"Accept": "application/json"})
        as_page = _call(app, "/boom", {"Accept": "text/html"})
    assert as_json.status_code == 500 and as_json.json() == {"detail": "internal error"}
    assert as_page.status_code == 500 and "Something went wrong" in as_page.text
    for answer in (as_json, as_page):
        assert "hunter2" not in answer.text and "Traceback" not in answer.text
    assert "internal error on GET /boom" in caplog.text
    assert "hunter2" in caplog.text  # the operator sees the cause in the log


def test_unknown_paths_are_plain_404s(db: Database, tmp_path: Path) -> None:
    app = create_app(Settings(outbox=tmp_path / "outbox"), database=db)
    answer = _call(app, "/nowhere", {"Accept": "application/json"})
    assert answer.status_code == 404 and answer.json() == {"detail": "Not Found"}
    page = _call(app, "/nowhere", {"Accept": "text/html"})
    assert page.status_code == 404 and "That did not work" in page.text
