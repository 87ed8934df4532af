"""The double opt-in email, from the same pipeline as the digest."""

from __future__ import annotations

from newsletter.placeholders import remaining_placeholders
from newsletter.render.compile import compile_confirmation
from newsletter.render.recipient import CONFIRM_URL, FIRST_NAME, FIRST_NAME_HTML
from newsletter.tokens import Purpose, TokenSigner
from tests.render.conftest import context, fill, parse, visible_text


def test_confirmation_email(signer: TokenSigner) -> None:
    email = compile_confirmation(context())
    assert email.kind == "confirmation"
    assert email.placeholders == {CONFIRM_URL, FIRST_NAME, FIRST_NAME_HTML}
    assert email.subject == "Please confirm your subscription to The Briefing"
    assert [link.section for link in email.links] == ["confirm"]
    filled = fill(email, None)
    assert remaining_placeholders(filled.html + filled.text) == []
    root = parse(filled.html)
    hrefs = {a.get("href") for a in root.xpath("//a[@href]")}
    (url,) = hrefs
    token = url.removeprefix("https://news.example.org/confirm/")
    assert signer.verify(Purpose.CONFIRM, token) == "sub-123"
    shown = visible_text(filled.html)
    assert "Hello there," in shown and "Confirm my subscription" in shown
    assert "Unsubscribe" not in shown and "12 Harbour Street" in shown
    assert f"Confirm your subscription: {url}" in filled.text
    assert root.get("lang") == "en"


def test_confirmation_test_send() -> None:
    email = compile_confirmation(context(test_send=True), greeting="Olá {name}!")
    assert email.subject.startswith("[TEST] ")
    assert "Test send." in visible_text(email.html)
    assert f"Olá {FIRST_NAME_HTML}!" in email.html
