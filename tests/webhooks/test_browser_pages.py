"""The webhooks page in Chromium at desktop width and at 375 px: an admin adds an endpoint
(the secret shown once), sends a test event that the loopback receiver first refuses, sees
the answer in the log, retries it into delivery, and no page scrolls sideways.
Screenshots under ``artifacts/test_browser_pages/``."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import cast

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, expect
from standardwebhooks import Webhook

from newsletter.db import Database
from tests.editor.conftest import PASSWORD, add_editor
from tests.subscribers.conftest import LiveServer, serve  # noqa: F401  (a fixture)
from tests.webhooks.receiver import Receiver

pytestmark = pytest.mark.browser


def _shot(page: Page, folder: Path, name: str, width: int) -> None:
    overflow = cast(int, page.evaluate("document.documentElement.scrollWidth - window.innerWidth"))
    assert overflow <= 0, f"{name} scrolls sideways at {width} px"
    page.screenshot(path=str(folder / f"{name}-{width}.png"), full_page=True)


@pytest.mark.parametrize("width", [1280, 375])
def test_an_admin_adds_tests_and_retries(
    browser: Browser,
    db: Database,
    serve: Callable[..., LiveServer],  # noqa: F811
    receiver: Receiver,
    artifacts_dir: Path,
    width: int,
) -> None:
    site = serve(webhooks_allow_private_addresses=True, webhook_timeout_seconds=0.5)
    add_editor(db, "root@example.org", role="admin")
    context = browser.new_context(viewport={"width": width, "height": 900})
    page = context.new_page()
    errors: list[str] = []

    def console(message: ConsoleMessage) -> None:
        favicon = message.location["url"].endswith("/favicon.ico")
        if message.type == "error" and not favicon:
            errors.append(message.text)

    page.on("console", console)
    page.goto(f"{site.url}/editor/login")
    page.get_by_label("Email address").fill("root@example.org")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()

    page.get_by_role("link", name="Webhooks").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Webhooks")
    expect(page.get_by_text("No endpoints yet.")).to_be_visible()
    page.get_by_label("URL").fill(receiver.url)
    page.get_by_role("checkbox", name="campaign.sent").check()
    page.get_by_role("button", name="Add endpoint").click()
    shown = page.locator("#new-secret")
    expect(shown).to_be_visible()
    secret = shown.inner_text().strip()
    assert secret.startswith("whsec_")
    _shot(page, artifacts_dir, "added", width)

    receiver.script = [503]
    page.get_by_role("button", name="Send test event to endpoint 1").click()
    expect(page.get_by_role("status").first).to_contain_text("not delivered (HTTP 503)")
    log_row = page.locator("#deliveries tbody tr").first
    expect(log_row).to_contain_text("HTTP 503")
    expect(log_row).to_contain_text("answer 503 <b>from the receiver</b>")
    _shot(page, artifacts_dir, "refused", width)
    log_row.get_by_role("button", name="Retry now message 1").click()
    expect(page.get_by_role("status").first).to_contain_text("Message 1: delivered.")
    expect(page.locator("#deliveries tbody tr").first).to_contain_text("delivered")
    last = receiver.received[-1]
    assert Webhook(secret).verify(last.body, last.headers)["type"] == "webhook.test"
    _shot(page, artifacts_dir, "delivered", width)
    assert errors == []
    context.close()
