"""The 12-brief digest in headless Chromium at 375 and 600 px, light and dark: legible, no
overflow, cards laid out right, citation targets named and big enough, the lead story on a
phone's first screen.

Screenshots are kept under ``artifacts/test_browser/``. Nothing is fetched: every request
(the brief images) is answered with a local SVG.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, Route

from newsletter.render.compile import compile_confirmation
from tests.render.conftest import compile_, context, fill
from tests.render.fixtures import WEEK

pytestmark = pytest.mark.browser

PHOTO = (
    b'<svg xmlns="http://www.w3.org/2000/svg" width="1200" height="675">'
    b'<rect width="1200" height="675" fill="#6f8aa5"/></svg>'
)


def _photo(route: Route) -> None:
    route.fulfill(status=200, body=PHOTO, content_type="image/svg+xml")


@pytest.fixture(scope="module")
def digest_html() -> str:
    variant = compile_(WEEK, track_opens=True, track_clicks=True)
    assert variant.online_slugs == ()
    return fill(variant).html


def open_email(
    browser: Browser, html: str, width: int, scheme: str = "light", height: int = 900
) -> Iterator[Page]:
    ctx = browser.new_context(viewport={"width": width, "height": height}, color_scheme=scheme)  # type: ignore[arg-type]
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
    return _luminance(page.eval_on_selector(selector, f"e => getComputedStyle(e).{prop}"))


def _luminance(rgb: str) -> float:
    r, g, b = (int(v) for v in rgb[rgb.index("(") + 1 : rgb.index(")")].split(",")[:3])
    return (0.2126 * r + 0.7152 * g + 0.0722 * b) / 255


# The background a reader sees behind an element: its own, or the first ancestor's that is
# not transparent.
SEEN_BACKGROUND = """e => { for (let n = e; n; n = n.parentElement) {
  const c = getComputedStyle(n).backgroundColor;
  if (c !== 'rgba(0, 0, 0, 0)' && c !== 'transparent') return c; } return 'rgb(255, 255, 255)'; }"""

# Font size of every visible text node's element (the hidden preview text has no box).
TEXT_SIZES = """() => { const out = []; const walk = document.createTreeWalker(document.body,
  NodeFilter.SHOW_TEXT); for (let n = walk.nextNode(); n; n = walk.nextNode()) {
  const e = n.parentElement; if (!n.textContent.trim() || !e.getClientRects().length) continue;
  if (getComputedStyle(e).visibility === 'hidden' || e.closest('[style*="display:none"]')) continue;
  out.push([parseFloat(getComputedStyle(e).fontSize), n.textContent.trim().slice(0, 40)]); }
  return out; }"""


@pytest.mark.parametrize("width", [375, 600])
def test_legible_without_overflow(
    browser: Browser, digest_html: str, width: int, artifacts_dir: Path
) -> None:
    for page in open_email(browser, digest_html, width):
        page.screenshot(path=str(artifacts_dir / f"digest-{width}.png"), full_page=True)
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        sizes = page.evaluate(TEXT_SIZES)
        assert min(size for size, _ in sizes) >= 14, [t for t in sizes if t[0] < 14][:5]
        assert min(font_sizes(page, "li, td.cd p:not([class])")) >= 15  # reading text
        images = boxes(page, "img[src^='https://images.']")
        assert len(images) == sum(1 for b in WEEK if b.image_url)
        assert all(0 < box["w"] <= width - 2 * 16 for box in images)


def test_perspective_cards_side_by_side_on_desktop_stacked_on_mobile(
    browser: Browser, digest_html: str
) -> None:
    for page in open_email(browser, digest_html, 600):
        first, second = boxes(page, "td.cd")[:2]
        assert abs(first["y"] - second["y"]) < 1
        assert second["x"] >= first["x"] + first["w"] - 1
        assert first["w"] < 300
    for page in open_email(browser, digest_html, 375):
        first, second = boxes(page, "td.cd")[:2]
        assert second["y"] >= first["y"] + first["h"] - 1
        assert abs(first["x"] - second["x"]) < 1 and first["w"] > 300


def test_citations_are_named_targets_of_at_least_24_px(browser: Browser, digest_html: str) -> None:
    for page in open_email(browser, digest_html, 375):
        chips = boxes(page, "a.c")
        assert len(chips) > 50
        assert min(box["w"] for box in chips) >= 24 and min(box["h"] for box in chips) >= 24
        # the accessible name Chromium computes, as a screen reader gets it
        named = page.get_by_role("link", name=re.compile(r"^source \d+: \S"))
        assert named.count() == len(chips)
        assert page.get_by_role("link", name="source 1: Reuters").count() >= 1
        assert page.get_by_role("link", name=re.compile(r"^\d+$")).count() == 0


def test_the_lead_story_starts_on_a_phones_first_screen(
    browser: Browser, digest_html: str, artifacts_dir: Path
) -> None:
    for page in open_email(browser, digest_html, 375, height=667):
        page.screenshot(path=str(artifacts_dir / "digest-375-first-screen.png"))
        (title,) = boxes(page, f"h2#brief-{WEEK[0].slug}")
        assert title["y"] + title["h"] <= 667
        (contents,) = boxes(page, "ol[start='2']")
        assert contents["y"] > title["y"]  # the contents come after the lead


@pytest.mark.parametrize("width", [375, 600])
def test_dark_mode_keeps_text_readable(
    browser: Browser, digest_html: str, width: int, artifacts_dir: Path
) -> None:
    for page in open_email(browser, digest_html, width, "dark"):
        page.screenshot(path=str(artifacts_dir / f"digest-{width}-dark.png"), full_page=True)
        assert luminance(page, "body", "backgroundColor") < 0.15
        assert luminance(page, "li", "color") > 0.7
        assert luminance(page, "td.cd", "backgroundColor") < 0.25
        assert luminance(page, "td.cd p", "color") > 0.6
        # the forecast's number and bar sit on the card's own colour, not a darker band
        card = page.eval_on_selector(
            "td.pc", "e => getComputedStyle(e.closest('td.cd')).backgroundColor"
        )
        assert page.eval_on_selector("td.pc", SEEN_BACKGROUND) == card
        assert luminance(page, "td.pc", "color") > 0.5
    for page in open_email(browser, digest_html, width, "light"):
        assert luminance(page, "body", "backgroundColor") > 0.9
        assert luminance(page, "li", "color") < 0.3
        card = page.eval_on_selector(
            "td.pc", "e => getComputedStyle(e.closest('td.cd')).backgroundColor"
        )
        assert page.eval_on_selector("td.pc", SEEN_BACKGROUND) == card


def test_confirmation_email_at_375(browser: Browser, artifacts_dir: Path) -> None:
    html = fill(compile_confirmation(context())).html
    for page in open_email(browser, html, 375):
        page.screenshot(path=str(artifacts_dir / "confirmation-375.png"), full_page=True)
        assert page.evaluate("document.documentElement.scrollWidth") <= 375
        button = boxes(page, "a[href^='https://news.example.org/confirm/']")[0]
        assert button["h"] >= 40  # a comfortable tap target
