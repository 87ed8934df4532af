"""The browser fixture itself works: Debian's chromium, headless, driven by Playwright."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page

pytestmark = pytest.mark.browser


def test_chromium_renders_a_page(page: Page) -> None:
    page.set_content("<h1 id='t'>Hello &amp; welcome</h1>")
    assert page.inner_text("#t") == "Hello & welcome"
