"""The editor's "no such brief" page and API answer suggest the slug that was meant (a
mistyped or cut URL), in Chromium at desktop width and at 375 px too."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from newsletter.db import Database
from tests.campaigns.helpers import SLUGS, import_examples
from tests.editor.conftest import PASSWORD, Editor, add_editor
from tests.subscribers.conftest import LiveServer

GAS = SLUGS[0]


def test_a_mistyped_brief_address_suggests_the_brief(db: Database, editor: Editor) -> None:
    import_examples(db)
    page = editor.get("/editor/briefs/eu-gas-prices", headers={"Accept": "text/html"})
    assert page.status_code == 404
    assert (
        f"no brief with slug &#39;eu-gas-prices&#39; (did you mean &#39;{GAS}&#39;?)" in page.text
    )
    api = editor.get("/editor/api/briefs/bank-of-englnd-cuts-rates-split-vote")
    assert api.status_code == 404 and f"did you mean '{SLUGS[1]}'?" in api.json()["detail"]
    hostile = editor.get("/editor/briefs/<b>eu-gas", headers={"Accept": "text/html"})
    assert hostile.status_code == 404 and "<b>eu-gas" not in hostile.text


@pytest.mark.browser
@pytest.mark.parametrize("width", [1280, 375])
def test_the_suggestion_reads_well(
    browser: Browser, db: Database, site: LiveServer, artifacts_dir: Path, width: int
) -> None:
    import_examples(db)
    add_editor(db, "ann@example.org")
    context = browser.new_context(viewport={"width": width, "height": 800})
    page = context.new_page()
    page.goto(f"{site.url}/editor/login")
    page.get_by_label("Email address").fill("ann@example.org")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Campaigns")
    page.goto(f"{site.url}/editor/briefs/eu-gas-prices")
    expect(page.get_by_text(f"did you mean '{GAS}'?")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 0
    page.screenshot(path=str(artifacts_dir / f"brief-not-found-{width}.png"), full_page=True)
    context.close()
