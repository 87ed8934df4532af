"""Chromium in Kathmandu signs up: the form's script sends the browser's own time zone, under
the signup page's policy (script from our origin only); without script nothing breaks."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select

from subscribers.model import Subscriber
from tests.subscribers.conftest import LiveServer

pytestmark = pytest.mark.browser


def _zones(server: LiveServer) -> dict[str, str | None]:
    with server.database.transaction() as session:
        return {
            str(email): zone
            for email, zone in session.execute(select(Subscriber.email, Subscriber.time_zone))
        }


@pytest.fixture
def kathmandu(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(timezone_id="Asia/Kathmandu")
    yield context.new_page()
    context.close()


@pytest.fixture
def no_script(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(timezone_id="Asia/Tokyo", java_script_enabled=False)
    yield context.new_page()
    context.close()


def test_the_signup_form_sends_the_browsers_time_zone(
    kathmandu: Page, no_script: Page, live_server: LiveServer
) -> None:
    blocked: list[str] = []
    kathmandu.on(
        "console", lambda m: blocked.append(m.text) if "Content Security" in m.text else None
    )
    kathmandu.goto(f"{live_server.url}/subscribe")
    # Chromium's ICU names Kathmandu by its older IANA name, Asia/Katmandu (a link in tzdata)
    reported = kathmandu.evaluate("Intl.DateTimeFormat().resolvedOptions().timeZone")
    assert reported in ("Asia/Kathmandu", "Asia/Katmandu")
    expect(kathmandu.locator("#time_zone")).to_have_value(reported)
    kathmandu.get_by_label("Email address").fill("ram@example.org")
    kathmandu.get_by_role("button", name="Subscribe").click()
    expect(kathmandu.get_by_role("heading", level=1)).to_have_text("Check your inbox")
    assert blocked == []

    no_script.goto(f"{live_server.url}/subscribe")
    expect(no_script.locator("#time_zone")).to_have_value("")
    no_script.get_by_label("Email address").fill("aiko@example.org")
    no_script.get_by_role("button", name="Subscribe").click()
    expect(no_script.get_by_role("heading", level=1)).to_have_text("Check your inbox")
    assert _zones(live_server) == {"ram@example.org": reported, "aiko@example.org": None}
    moment = datetime(2026, 6, 1, tzinfo=UTC).astimezone(ZoneInfo(reported))
    assert moment.utcoffset() == timedelta(hours=5, minutes=45)  # the zone we store is right
