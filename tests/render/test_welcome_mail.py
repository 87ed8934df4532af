"""The welcome mail: the editor's text escaped and unable to act as a placeholder, the
three links (latest issue, archive, the reader's preferences), the footer, and first-party
tracking of the content links when asked; no date (a step is frozen once, sent for weeks)."""

from __future__ import annotations

from newsletter.render.compile import compile_welcome
from newsletter.render.recipient import PREFERENCES_URL, TRACKING_TOKEN, UNSUBSCRIBE_URL
from tests.render.conftest import PUBLIC_URL, context

HOSTILE = 'Hi <img src=x onerror="alert(1)"> & %%nl_unsubscribe_url%%'


def test_text_is_escaped_and_cannot_be_a_placeholder() -> None:
    email = compile_welcome(context(), subject=f"Welcome {HOSTILE}", body=f"{HOSTILE}\n\nTwo.")
    assert "<img src=x" not in email.html
    assert email.html.count("Hi &lt;img src=x") >= 2  # the paragraph and the preheader
    assert email.html.count(UNSUBSCRIBE_URL) == 1  # the footer's own link, not the text's
    assert "%%\u2060nl_unsubscribe_url%%" in email.subject
    assert email.text.count(UNSUBSCRIBE_URL) == 1
    assert "<p>Two.</p>" in email.html


def test_the_three_links_and_the_footer() -> None:
    email = compile_welcome(context(), subject="Welcome", body="Hello.")
    for text in (email.html, email.text):
        assert f"{PUBLIC_URL}/archive/latest" in text
        assert f"{PUBLIC_URL}/archive" in text
        assert PREFERENCES_URL in text and UNSUBSCRIBE_URL in text
    assert "Read the latest issue" in email.html
    assert "20 November 2026" not in email.html  # no issue date
    assert TRACKING_TOKEN not in email.html


def test_tracked_content_links_and_pixel() -> None:
    email = compile_welcome(
        context(track_clicks=True, track_opens=True), subject="Welcome", body="Hello."
    )
    tracked = [link for link in email.links if link.tracked]
    assert {link.url for link in tracked} == {
        f"{PUBLIC_URL}/archive/latest",
        f"{PUBLIC_URL}/archive",
    }
    assert f'href="{PUBLIC_URL}/t/c/{TRACKING_TOKEN}/' in email.html
    assert f"{PUBLIC_URL}/t/o/{TRACKING_TOKEN}" in email.html
    assert f"Read the latest issue: {PUBLIC_URL}/archive/latest" in email.text
