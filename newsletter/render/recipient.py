"""Per-recipient placeholder values: the only work done for each subscriber of a variant.

A compiled variant carries the placeholders below. :class:`RecipientValues` computes one
recipient's values (signed URLs, tracking token, first name) keyed by the full placeholder
string, which is both what :meth:`CompiledVariant.fill` takes and what SendGrid receives as
``substitutions``. The first name has two placeholders because it is the only value that
needs HTML escaping: ``first_name`` goes into the subject and the text part as written,
``first_name_html`` into the HTML part escaped. Every other value is a URL or token made of
URL-safe characters, identical in both parts.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from functools import lru_cache
from html import escape
from typing import Protocol

from newsletter.errors import ConfigurationError
from newsletter.placeholders import placeholder
from newsletter.render import routes
from newsletter.tokens import Purpose, TokenSigner

FIRST_NAME = placeholder("first_name")
FIRST_NAME_HTML = placeholder("first_name_html")
UNSUBSCRIBE_URL = placeholder("unsubscribe_url")
PREFERENCES_URL = placeholder("preferences_url")
VIEW_ONLINE_URL = placeholder("view_online_url")
CONFIRM_URL = placeholder("confirm_url")
KEEP_URL = placeholder("keep_url")
TRACKING_TOKEN = placeholder("tracking_token")

KNOWN_PLACEHOLDERS = frozenset(
    {
        FIRST_NAME,
        FIRST_NAME_HTML,
        UNSUBSCRIBE_URL,
        PREFERENCES_URL,
        VIEW_ONLINE_URL,
        CONFIRM_URL,
        KEEP_URL,
        TRACKING_TOKEN,
    }
)

_NAME_LIMIT = 60
UNSUBSCRIBE_FROM = "?d="
"""Query of a campaign's unsubscribe link: the delivery's tracking token, so that leaving
through the link (or one-click) counts in that campaign's report."""


@dataclass(frozen=True, slots=True)
class RecipientInfo:
    """Who one copy is for, as far as the email needs to know.

    ``subscriber_id`` is the subscriber's public id (signed into the unsubscribe,
    preferences and confirmation links); ``view_id`` is signed into the view-online link
    (the campaign layer decides what it names, by default the subscriber); ``tracking_id``
    is signed into the tracking token (normally the delivery's public id), required by
    variants compiled with first-party tracking, and when given it also travels in the
    unsubscribe link (``?d=``) so that an unsubscribe counts for the issue it came from.
    """

    subscriber_id: str
    first_name: str | None = None
    view_id: str | None = None
    tracking_id: str | None = None


class Personalisable(Protocol):
    """What :meth:`RecipientValues.values_for` needs to know about a compiled email."""

    @property
    def placeholders(self) -> frozenset[str]: ...

    @property
    def name_fallback(self) -> str: ...


class RecipientValues:
    """Computes recipients' placeholder values with one signer and the public URL."""

    __slots__ = ("_confirm", "_keep", "_prefs", "_signer", "_unsubscribe", "_view", "_views")

    def __init__(self, signer: TokenSigner, public_url: str) -> None:
        base = public_url.rstrip("/")
        if escape(base, quote=True) != base:
            raise ConfigurationError(
                f"public_url {public_url!r} holds a character that needs escaping in HTML"
            )
        self._signer = signer
        self._unsubscribe = base + routes.UNSUBSCRIBE
        self._prefs = base + routes.PREFERENCES
        self._view = base + routes.VIEW_ONLINE
        self._confirm = base + routes.CONFIRM
        self._keep = base + routes.KEEP
        self._views: dict[str, str] = {}

    def _view_url(self, view_id: str) -> str:
        """The view-online URL; a variant-wide id is signed once, not once per recipient."""
        url = self._views.get(view_id)
        if url is None:
            url = self._view + self._signer.sign(Purpose.VIEW_ONLINE, view_id)
            if len(self._views) < 1024:
                self._views[view_id] = url
        return url

    def values_for(self, email: Personalisable, recipient: RecipientInfo) -> dict[str, str]:
        """The values of exactly the placeholders ``email`` holds."""
        return self.values(recipient, email.placeholders, name_fallback=email.name_fallback)

    def values(
        self, recipient: RecipientInfo, needed: Collection[str], *, name_fallback: str
    ) -> dict[str, str]:
        """Values for the placeholders in ``needed`` (unknown ones raise ``KeyError``)."""
        sign = self._signer.sign
        out: dict[str, str] = {}
        name: str | None = None
        tracking: str | None = None
        for key in needed:
            if key in (FIRST_NAME, FIRST_NAME_HTML):
                if name is None:
                    name = clean_name(recipient.first_name) or name_fallback
                out[key] = name if key == FIRST_NAME else escape(name, quote=True)
            elif key == UNSUBSCRIBE_URL:
                url = self._unsubscribe + sign(Purpose.UNSUBSCRIBE, recipient.subscriber_id)
                if recipient.tracking_id:  # which issue it was: the report counts it there
                    tracking = tracking or sign(Purpose.TRACKING, recipient.tracking_id)
                    url += UNSUBSCRIBE_FROM + tracking
                out[key] = url
            elif key == PREFERENCES_URL:
                out[key] = self._prefs + sign(Purpose.PREFERENCES, recipient.subscriber_id)
            elif key == VIEW_ONLINE_URL:
                out[key] = self._view_url(recipient.view_id or recipient.subscriber_id)
            elif key == CONFIRM_URL:
                out[key] = self._confirm + sign(Purpose.CONFIRM, recipient.subscriber_id)
            elif key == KEEP_URL:
                out[key] = self._keep + sign(Purpose.KEEP, recipient.subscriber_id)
            elif key == TRACKING_TOKEN:
                if not recipient.tracking_id:
                    raise ValueError("this email is tracked: the recipient needs a tracking_id")
                tracking = tracking or sign(Purpose.TRACKING, recipient.tracking_id)
                out[key] = tracking
            else:
                raise KeyError(key)
        return out


def clean_name(name: str | None) -> str:
    """A first name fit for a subject line: one line, no control characters, not too long."""
    if not name:
        return ""
    if not name.isprintable():
        name = "".join(c if c.isprintable() else " " for c in name)
    return " ".join(name.split())[:_NAME_LIMIT]


@lru_cache(maxsize=8)
def _typical_signer(public_url: str) -> RecipientValues:
    return RecipientValues(TokenSigner("typical-values-are-not-secret"), public_url)


TYPICAL_ID_LENGTH = 22  # secrets.token_urlsafe(16), the usual public id
TYPICAL_NAME = "Maximiliana"


def typical_values(
    public_url: str, needed: Collection[str], *, name_fallback: str
) -> dict[str, str]:
    """Values as long as real ones, without a secret: for size estimates and previews.

    A token is ``<id>.<timestamp>.<signature>``: 22 + 1 + 6 + 1 + 43 characters.
    """
    values = _typical_signer(public_url)
    sample = "x" * TYPICAL_ID_LENGTH
    recipient = RecipientInfo(sample, TYPICAL_NAME, view_id=sample, tracking_id=sample)
    return values.values(recipient, needed, name_fallback=name_fallback)
