"""The digest in headless Chromium at 375 and 600 px: legible, no overflow, cards laid out right.

Screenshots are kept under ``artifacts/test_browser/``. Nothing is fetched: every request
(the brief images) is answered with a local SVG.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, Route

from newsletter.render.compile import compile_confirmation
from tests.render.conftest import compile_, context, fill
from tests.render.fixtures import DIGEST

pytestmark = pytest.mark.browser

PHOTO = (
    b'<svg xmlns="http://www.w3.org/2000/svg" width="1200" height="675">'
    b'<rect width="1200" height="675" fill="#6f8aa5"/></svg>'
)


def _photo(route: Route) -> None:
    route.fulfill(status=200, body=PHOTO, content_type="image/svg+xml")


@pytest.fixture(scope="module")
def digest_html() -> str:
    return fill(compile_(DIGEST, track_opens=True)).html


def open_email(browser: Browser, html: str, width: int, scheme: str = "light") -> Iterator[Page]:
    ctx = browser.new_context(viewport={"width": width, "height": 900}, color_scheme=scheme)  # type: ignore[arg-type]
    page = ctx.new_page()
    page.route("**/*", _photo)
    page.set_content(html, wait_until="load")
    try:
        yield page
    finally:
        ctx.close()


def boxes(page: Page, selector: str) -> list[dict[str, Any]]:
    return page.eval_on_selector_all(
        selector,
        "els => els.map(e => { const r = e.getBoundingClientRect();"
        " return {x: r.x, y: r.y, w: r.width, h: r.height}; })",
    )


def font_sizes(page: Page, selector: str) -> list[float]:
    sizes: list[float] = page.eval_on_selector_all(
        selector, "els => els.map(e => parseFloat(getComputedStyle(e).fontSize))"
    )
    assert sizes, selector
    return sizes


def luminance(page: Page, selector: str, prop: str) -> float:
    rgb = page.eval_on_selector(selector, f"e => getComputedStyle(e).{prop}")
    r, g, b = (int(v) for v in rgb[rgb.index("(") + 1 : rgb.index(")")].split(",")[:3])
    return (0.2126 * r + 0.7152 * g + 0.0722 * b) / 255


@pytest.mark.parametrize("width", [375, 600])
def test_legible_without_overflow(
    browser: Browser, digest_html: str, width: int, artifacts_dir: Path
) -> None:
    for page in open_email(browser, digest_html, width):
        page.screenshot(path=str(artifacts_dir / f"digest-{width}.png"), full_page=True)
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        assert min(font_sizes(page, "li, .nl-card-text p:not([class])")) >= 15  # reading text
        assert min(font_sizes(page, ".nl-meta, .nl-sources, .nl-kicker, .nl-credit")) >= 12
        images = boxes(page, "img[src^='https://images.']")
        assert len(images) == sum(1 for b in DIGEST if b.image_url)
        assert all(0 < box["w"] <= width - 2 * 16 for box in images)


def test_perspective_cards_side_by_side_on_desktop_stacked_on_mobile(
    browser: Browser, digest_html: str
) -> None:
    for page in open_email(browser, digest_html, 600):
        first, second = boxes(page, "div.nl-card")[:2]
        assert abs(first["y"] - second["y"]) < 1
        assert second["x"] >= first["x"] + first["w"] - 1
        assert first["w"] < 300
    for page in open_email(browser, digest_html, 375):
        first, second = boxes(page, "div.nl-card")[:2]
        assert second["y"] >= first["y"] + first["h"] - 1
        assert abs(first["x"] - second["x"]) < 1 and first["w"] > 300


def test_dark_mode_keeps_text_readable(
    browser: Browser, digest_html: str, artifacts_dir: Path
) -> None:
    for page in open_email(browser, digest_html, 600, "dark"):
        page.screenshot(path=str(artifacts_dir / "digest-600-dark.png"), full_page=True)
        assert luminance(page, "body", "backgroundColor") < 0.15
        assert luminance(page, "li", "color") > 0.7
        assert luminance(page, ".nl-card-text", "backgroundColor") < 0.25
        assert luminance(page, ".nl-card-text p", "color") > 0.6
    for page in open_email(browser, digest_html, 600, "light"):
        assert luminance(page, "body", "backgroundColor") > 0.9
        assert luminance(page, "li", "color") < 0.3


def test_confirmation_email_at_375(browser: Browser, artifacts_dir: Path) -> None:
    html = fill(compile_confirmation(context())).html
    for page in open_email(browser, html, 375):
        page.screenshot(path=str(artifacts_dir / "confirmation-375.png"), full_page=True)
        assert page.evaluate("document.documentElement.scrollWidth") <= 375
        button = boxes(page, "a[href^='https://news.example.org/confirm/']")[0]
        assert button["h"] >= 40  # a comfortable tap target
