"""The sunset policy's "keep me subscribed" email, from the same pipeline as the digest."""

from __future__ import annotations

from newsletter.placeholders import remaining_placeholders
from newsletter.render.compile import compile_keep
from newsletter.render.recipient import (
    FIRST_NAME,
    FIRST_NAME_HTML,
    KEEP_URL,
    PREFERENCES_URL,
    UNSUBSCRIBE_URL,
)
from newsletter.tokens import Purpose, TokenSigner
from tests.render.conftest import context, fill, parse, visible_text


def test_keep_email_has_one_button_and_the_unsubscribe_footer(signer: TokenSigner) -> None:
    email = compile_keep(context())
    assert email.kind == "keep"
    assert email.placeholders == {
        KEEP_URL,
        PREFERENCES_URL,
        UNSUBSCRIBE_URL,
        FIRST_NAME,
        FIRST_NAME_HTML,
    }
    assert email.subject == "Do you still want The Briefing?"
    assert sorted(link.section for link in email.links) == ["footer", "footer", "keep"]
    assert not any(link.tracked for link in email.links)
    filled = fill(email, None)
    assert remaining_placeholders(filled.html + filled.text) == []
    root = parse(filled.html)
    hrefs = {a.get("href") for a in root.xpath("//a[@href]")}
    keep = {h for h in hrefs if h and "/keep/" in h}
    (url,) = keep
    token = url.removeprefix("https://news.example.org/keep/")
    assert signer.verify(Purpose.KEEP, token) == "sub-123"
    with_button = root.xpath("//a[normalize-space()='Keep me subscribed']")
    assert [a.get("href") for a in with_button] == [url]
    shown = visible_text(filled.html)
    assert "Hello there," in shown and "Unsubscribe" in shown
    assert f"Keep me subscribed: {url}" in filled.text
    assert "Unsubscribe: https://news.example.org/unsubscribe/" in filled.text
