"""The signed links a subscriber receives: confirm, preferences and unsubscribe URLs.

Each carries the subscriber's random public ``uid`` signed for one purpose, never a
database id. Confirmation links expire (``confirmation_expiry_hours``); preferences and
unsubscribe links do not, since they sit in every mail a reader keeps. The unsubscribe URL
is also the one a campaign puts in ``List-Unsubscribe`` (with ``List-Unsubscribe-Post:
List-Unsubscribe=One-Click``, RFC 8058): ``POST`` to it unsubscribes, ``GET`` only asks.
"""

from __future__ import annotations

from newsletter.tokens import Purpose, TokenSigner


def confirm_url(public_url: str, signer: TokenSigner, uid: str) -> str:
    """The link a confirmation mail carries (signed now: its age counts from the mail)."""
    return f"{public_url}/confirm/{signer.sign(Purpose.CONFIRM, uid)}"


def keep_url(public_url: str, signer: TokenSigner, uid: str) -> str:
    """The sunset policy's "keep me subscribed" link (``GET`` shows a button, ``POST`` acts)."""
    return f"{public_url}/keep/{signer.sign(Purpose.KEEP, uid)}"


def preferences_url(public_url: str, signer: TokenSigner, uid: str) -> str:
    return f"{public_url}/preferences/{signer.sign(Purpose.PREFERENCES, uid)}"


def unsubscribe_url(public_url: str, signer: TokenSigner, uid: str) -> str:
    return f"{public_url}/unsubscribe/{signer.sign(Purpose.UNSUBSCRIBE, uid)}"


def unsubscribe_headers(public_url: str, signer: TokenSigner, uid: str) -> dict[str, str]:
    """The per-recipient headers for one-click unsubscribe (RFC 2369 and RFC 8058)."""
    return {
        "List-Unsubscribe": f"<{unsubscribe_url(public_url, signer, uid)}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }
