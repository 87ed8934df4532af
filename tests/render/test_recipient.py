"""Per-recipient values: signed URLs for the right purpose, the first name, escaped or not."""

from __future__ import annotations

import pytest

from newsletter.errors import ConfigurationError
from newsletter.render.recipient import (
    CONFIRM_URL,
    FIRST_NAME,
    FIRST_NAME_HTML,
    KNOWN_PLACEHOLDERS,
    PREFERENCES_URL,
    TRACKING_TOKEN,
    UNSUBSCRIBE_URL,
    VIEW_ONLINE_URL,
    RecipientInfo,
    RecipientValues,
    clean_name,
)
from newsletter.tokens import Purpose, TokenSigner
from tests.render.conftest import PUBLIC_URL

URLS = {
    UNSUBSCRIBE_URL: ("/unsubscribe/", Purpose.UNSUBSCRIBE, "sub-1"),
    PREFERENCES_URL: ("/preferences/", Purpose.PREFERENCES, "sub-1"),
    VIEW_ONLINE_URL: ("/view/", Purpose.VIEW_ONLINE, "camp-7-sub-1"),
    CONFIRM_URL: ("/confirm/", Purpose.CONFIRM, "sub-1"),
}


def test_values_for_every_placeholder(signer: TokenSigner) -> None:
    values = RecipientValues(signer, PUBLIC_URL + "/")
    recipient = RecipientInfo("sub-1", "Zoë & <Co>", view_id="camp-7-sub-1", tracking_id="dlv-1")
    out = values.values(recipient, KNOWN_PLACEHOLDERS, name_fallback="reader")
    assert set(out) == KNOWN_PLACEHOLDERS
    assert out[FIRST_NAME] == "Zoë & <Co>"
    assert out[FIRST_NAME_HTML] == "Zoë &amp; &lt;Co&gt;"
    for key, (path, purpose, subject) in URLS.items():
        prefix = f"{PUBLIC_URL}{path}"
        assert out[key].startswith(prefix)
        token = out[key].removeprefix(prefix).split("?d=")[0]
        assert signer.verify(purpose, token) == subject
        wrong = Purpose.TRACKING
        with pytest.raises(Exception, match="not valid"):
            signer.verify(wrong, token)
    assert signer.verify(Purpose.TRACKING, out[TRACKING_TOKEN]) == "dlv-1"
    # the unsubscribe link says which issue it came from: the same tracking token
    assert out[UNSUBSCRIBE_URL].endswith("?d=" + out[TRACKING_TOKEN])


def test_only_the_needed_values_and_the_fallback(signer: TokenSigner) -> None:
    values = RecipientValues(signer, PUBLIC_URL)
    out = values.values(
        RecipientInfo("sub-1", "  "), {FIRST_NAME, UNSUBSCRIBE_URL}, name_fallback="you"
    )
    assert set(out) == {FIRST_NAME, UNSUBSCRIBE_URL} and out[FIRST_NAME] == "you"
    assert "?" not in out[UNSUBSCRIBE_URL]  # no delivery (a test send): no issue to name
    with pytest.raises(ValueError, match="tracking_id"):
        values.values(RecipientInfo("sub-1"), {TRACKING_TOKEN}, name_fallback="you")
    with pytest.raises(KeyError):
        values.values(RecipientInfo("sub-1"), {"%%nl_unknown%%"}, name_fallback="you")


def test_names_are_one_printable_line() -> None:
    assert clean_name(" Ana\r\nBcc: x@example.org\x00 ") == "Ana Bcc: x@example.org"
    assert clean_name("\u200bLi  Wei\t") == "Li Wei"
    assert clean_name(None) == "" and len(clean_name("x" * 500)) == 60


def test_a_public_url_that_needs_escaping_is_refused(signer: TokenSigner) -> None:
    with pytest.raises(ConfigurationError, match="escaping"):
        RecipientValues(signer, 'https://example.org/?a=1&b="2"')
