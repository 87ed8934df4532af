"""VERP return paths: each message's envelope sender names its delivery, signed, so a bounce does.

SMTP and outbox mail go out with ``bounces+<ref>@<bounce domain>`` as the envelope sender
(SMTP ``MAIL FROM``, the outbox's ``Return-Path``). A bounce is mailed to that address, so the
bounce mailbox learns which delivery failed without trusting anything the bounce itself says.

``<ref>`` is the delivery id in lower-case hex, a ``-``, and an 80-bit HMAC-SHA256 of it in
lower-case base32 (at most 41 characters with the ``bounces+`` prefix, well under the
64 a local part may have). Lower case throughout, because many mail servers lower-case local
parts; :meth:`ReturnPaths.delivery_id` lower-cases before it checks. The HMAC key is derived
from the project's signing key for this purpose alone (stdlib :mod:`hmac`), so a ref cannot
be made from any other token, and a forged or altered ref is refused
(:class:`~newsletter.errors.InvalidToken`) before anything acts on it.
"""

from __future__ import annotations

import hashlib
import hmac
import re

from newsletter.config import Settings
from newsletter.deliverability.dkim import dns_name
from newsletter.errors import InvalidToken

LOCAL_PART = "bounces"
_MAC_BYTES = 10  # 80 bits: 16 base32 characters
_PURPOSE = b"newsletter.bounce-return-path"
_MAX_ID = 2**63 - 1
_SHAPE = re.compile(r"bounces\+([0-9a-z]+)-([0-9a-z]+)@([^@\s]+)")
_REF = re.compile(r"([0-9a-f]{1,16})-([a-z2-7]{16})")
_BASE32 = "abcdefghijklmnopqrstuvwxyz234567"  # RFC 4648's alphabet, lower case
_BASE32_PAIRS = tuple(a + b for a in _BASE32 for b in _BASE32)  # every 10 bits as 2 characters


def base32_80(data: bytes) -> str:
    """``base64.b32encode(data).decode().lower()`` for 10 bytes (80 bits: 16 characters, no
    padding), without the stdlib's pure-Python loop: a send makes one per message."""
    if len(data) != _MAC_BYTES:
        raise ValueError(f"base32_80 takes {_MAC_BYTES} bytes, not {len(data)}")
    bits = int.from_bytes(data, "big")
    return "".join([_BASE32_PAIRS[(bits >> shift) & 1023] for shift in range(70, -1, -10)])


class ReturnPaths:
    """Makes and checks the VERP address of a delivery, under one signing key."""

    def __init__(self, secret: str, domain: str | None = None) -> None:
        self._key = hmac.new(secret.encode("utf-8"), _PURPOSE, hashlib.sha256).digest()
        self._keyed = hmac.new(self._key, digestmod=hashlib.sha256)  # copied for each ref
        self.domain = dns_name(domain, "NEWSLETTER_BOUNCE_DOMAIN") if domain else None

    @classmethod
    def from_settings(cls, settings: Settings) -> ReturnPaths:
        return cls(settings.signing_key(), settings.bounce_domain)

    def address(self, delivery_id: int, from_email: str) -> str:
        """``bounces+<ref>@<bounce domain>``; the domain defaults to ``from_email``'s."""
        domain = self.domain or from_email.rpartition("@")[2].lower()
        return f"{LOCAL_PART}+{self.ref(delivery_id)}@{domain}"

    def ref(self, delivery_id: int) -> str:
        if not 0 < delivery_id <= _MAX_ID:
            raise ValueError(f"a delivery id is a positive 63-bit integer, not {delivery_id}")
        number = f"{delivery_id:x}"
        return f"{number}-{self._mac(number)}"

    def delivery_id(self, address: str) -> int | None:
        """The delivery a VERP address names; ``None`` if ``address`` is not one of ours in
        shape, :class:`InvalidToken` if it is but its ref was forged or altered."""
        found = _SHAPE.fullmatch(address.strip().strip("<>").lower())
        if found is None:
            return None
        ref = _REF.fullmatch(f"{found.group(1)}-{found.group(2)}")
        if ref is None or not hmac.compare_digest(ref.group(2), self._mac(ref.group(1))):
            raise InvalidToken(f"the bounce address {address[:100]!r} is not signed by us")
        number = int(ref.group(1), 16)
        if not 0 < number <= _MAX_ID:
            raise InvalidToken(f"the bounce address {address[:100]!r} names no delivery")
        return number

    def _mac(self, number: str) -> str:
        mac = self._keyed.copy()  # the HMAC keyed once: the same MAC as hmac.new(key, number)
        mac.update(number.encode("ascii"))
        return base32_80(mac.digest()[:_MAC_BYTES])


def is_return_path(address: str) -> bool:
    """Whether ``address`` has the shape of our VERP addresses (signed or not)."""
    return _SHAPE.fullmatch(address.strip().strip("<>").lower()) is not None
