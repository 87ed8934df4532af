"""Verify SendGrid's Signed Event Webhook: an ECDSA signature over timestamp + raw body.

The signature check itself is the official library's
(``sendgrid.helpers.eventwebhook.EventWebhook.verify_signature``). That helper does not
look at the timestamp's age, so :class:`SendGridSignature` refuses timestamps further than
``max_age`` seconds from now, in either direction (clocks drift). Every failure is one
:class:`WebhookVerificationError` whose message says what was wrong, never which part of
a signature almost matched.
"""

from __future__ import annotations

import binascii
import re
import time
from collections.abc import Callable, Mapping
from typing import Any

from sendgrid.helpers.eventwebhook import EventWebhook
from sendgrid.helpers.eventwebhook.eventwebhook_header import EventWebhookHeader

from newsletter.errors import ConfigurationError, WebhookVerificationError

SIGNATURE_HEADER: str = EventWebhookHeader.SIGNATURE
TIMESTAMP_HEADER: str = EventWebhookHeader.TIMESTAMP
_PEM_LINES = re.compile(r"-----(BEGIN|END) PUBLIC KEY-----")


class SendGridSignature:
    """Checks the signature headers of one request against the configured public key."""

    def __init__(
        self, public_key: str, *, max_age: int, clock: Callable[[], float] = time.time
    ) -> None:
        key = "".join(_PEM_LINES.sub("", public_key).split())
        self._helper = EventWebhook()
        try:
            self._key: Any = self._helper.convert_public_key_to_ecdsa(key)
        except (ValueError, TypeError, binascii.Error) as exc:
            raise ConfigurationError(
                "NEWSLETTER_SENDGRID_WEBHOOK_PUBLIC_KEY is not a public key (expected the "
                f"base64 key from SendGrid's Event Webhook settings): {exc}"
            ) from exc
        if getattr(getattr(self._key, "curve", None), "name", None) != "secp256r1":
            raise ConfigurationError(
                "NEWSLETTER_SENDGRID_WEBHOOK_PUBLIC_KEY is not an ECDSA P-256 key, which is "
                "what SendGrid signs with"
            )
        self._max_age = max_age
        self._clock = clock

    def verify(self, body: bytes, headers: Mapping[str, str]) -> None:
        """Return if SendGrid signed ``body`` recently; raise otherwise."""
        signature = headers.get(SIGNATURE_HEADER)
        timestamp = headers.get(TIMESTAMP_HEADER)
        if not signature or not timestamp:
            raise WebhookVerificationError(
                f"the request is not signed ({SIGNATURE_HEADER} and {TIMESTAMP_HEADER} needed)"
            )
        self._check_age(timestamp)
        try:
            payload = body.decode("utf-8")
            valid = self._helper.verify_signature(payload, signature, timestamp, self._key)
        except (UnicodeDecodeError, binascii.Error, ValueError, TypeError):
            valid = False
        if not valid:
            raise WebhookVerificationError("the signature does not match the request")

    def _check_age(self, timestamp: str) -> None:
        text = timestamp.strip()
        if not (text.isascii() and text.isdigit() and len(text) <= 12):
            raise WebhookVerificationError("the signature timestamp is not a Unix time")
        age = self._clock() - int(text)
        if abs(age) > self._max_age:
            raise WebhookVerificationError(
                f"the signature timestamp is {int(abs(age))} s "
                f"{'old' if age > 0 else 'in the future'} (at most {self._max_age} s allowed)"
            )
