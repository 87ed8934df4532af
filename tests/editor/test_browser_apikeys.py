"""API keys in Chromium, at desktop width and at 375 px: an admin makes a key with two
scopes, sees it once, finds it listed by its start, and revokes it; nothing is blocked by
the editor's policy and no page scrolls sideways. Screenshots under
``artifacts/test_browser_apikeys/``."""

from __future__ import annotations

from pathlib import Path
from typing import cast

import httpx
import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, expect

from newsletter.db import Database
from tests.editor.conftest import PASSWORD, add_editor
from tests.subscribers.conftest import LiveServer

pytestmark = pytest.mark.browser


def _shot(page: Page, folder: Path, name: str, width: int) -> None:
    overflow = cast(int, page.evaluate("document.documentElement.scrollWidth - window.innerWidth"))
    wide = page.evaluate(
        "[...document.querySelectorAll('body *')].filter(e => !e.closest('.scroll') && e.getBoundingClientRect().right"
        " > window.innerWidth).slice(0, 5).map(e => e.tagName + '.' + e.className + ' '"
        " + e.getBoundingClientRect().right)"
    )
    assert overflow <= 0, f"{name} scrolls sideways at {width} px: {wide}"
    page.screenshot(path=str(folder / f"{name}-{width}.png"), full_page=True)


@pytest.mark.parametrize("width", [1280, 375])
def test_an_admin_makes_and_revokes_a_key(
    browser: Browser, db: Database, site: LiveServer, artifacts_dir: Path, width: int
) -> None:
    add_editor(db, "root@example.org", role="admin")
    context = browser.new_context(viewport={"width": width, "height": 900})
    page = context.new_page()
    errors: list[str] = []

    def console(message: ConsoleMessage) -> None:
        refused = "status of 422" in message.text
        favicon = message.location["url"].endswith("/favicon.ico")
        if message.type == "error" and not refused and not favicon:
            errors.append(message.text)

    page.on("console", console)
    page.goto(f"{site.url}/editor/login")
    page.get_by_label("Email address").fill("root@example.org")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()

    page.get_by_role("link", name="API keys").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("API keys")
    expect(page.get_by_text("No API keys yet.")).to_be_visible()
    page.get_by_label("Name").fill("cms")
    page.get_by_label("Requests a minute").fill("30")
    page.get_by_role("checkbox", name="briefs:write").check()
    page.get_by_role("checkbox", name="subscribers:write").check()
    page.get_by_role("button", name="Make key").click()
    shown = page.locator("#new-key")
    expect(shown).to_be_visible()
    key = shown.inner_text().strip()
    assert key.startswith("nlk_")
    _shot(page, artifacts_dir, "made", width)
    answer = httpx.post(
        f"{site.url}/api/v1/subscribers",
        json={"email": "ana@example.org", "source": "cms"},
        headers={"Authorization": f"Bearer {key}"},
    )
    assert answer.json()["result"] == "queued"

    page.goto(f"{site.url}/editor/admin/apikeys")  # the list, never the key again
    expect(page.locator("#new-key")).to_have_count(0)
    row = page.locator("tbody tr", has_text="cms")
    expect(row).to_contain_text(key[:12])
    expect(row).to_contain_text("briefs:write, subscribers:write")
    expect(row).to_contain_text("active")
    _shot(page, artifacts_dir, "listed", width)
    row.get_by_role("button", name="Revoke cms").click()
    expect(page.get_by_role("status").first).to_contain_text("is revoked")
    expect(page.locator("tbody tr", has_text="cms")).to_contain_text("revoked")
    _shot(page, artifacts_dir, "revoked", width)
    assert errors == []
    context.close()
