"""After a browser test, the main thread has no running event loop for the tests that follow
(Playwright's sync API leaves its loop marked as running: tests/conftest.py undoes that)."""

from __future__ import annotations

import asyncio

import pytest


@pytest.mark.browser
def test_a_browser_test_runs_first(page: object) -> None:
    from playwright.sync_api import Page

    assert isinstance(page, Page)
    page.set_content("<p>hello</p>")
    assert page.text_content("p") == "hello"


def test_a_later_test_can_run_its_own_event_loop() -> None:
    assert asyncio.run(asyncio.sleep(0, result="ran")) == "ran"
