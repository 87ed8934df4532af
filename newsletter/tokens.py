"""Signed tokens for the links in emails and pages (confirm, unsubscribe, preferences, tracking).

A token names its *purpose* (an unsubscribe token cannot confirm an address) and carries an
opaque subject, normally a subscriber's random public id, never a database key. It is an
:mod:`itsdangerous` timestamped token (HMAC-SHA256), stamped with its creation time, so each
use can decide how old a token may be (confirmation links expire; unsubscribe links must
keep working).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import time
from enum import StrEnum

from itsdangerous import BadSignature, SignatureExpired, TimestampSigner
from itsdangerous.encoding import int_to_bytes

from newsletter.errors import InvalidToken


class Purpose(StrEnum):
    CONFIRM = "confirm"
    UNSUBSCRIBE = "unsubscribe"
    PREFERENCES = "preferences"
    VIEW_ONLINE = "view"
    TRACKING = "track"
    KEEP = "keep"  # the sunset policy's "keep me subscribed" button


_SUBJECT = re.compile(r"[A-Za-z0-9_-]{1,200}")


def _b64(data: bytes) -> bytes:
    """URL-safe base64 without padding, as itsdangerous writes it."""
    return base64.urlsafe_b64encode(data).rstrip(b"=")


class TokenSigner:
    """Signs and verifies tokens with one secret; one :class:`TimestampSigner` per purpose.

    Verification is itsdangerous's own. Signing makes exactly the tokens
    ``TimestampSigner.sign`` makes (``subject.timestamp.signature``, HMAC-SHA256 under the
    signer's derived key) with the standard library's :mod:`hmac`, set up once per purpose:
    each token copies that keyed HMAC instead of deriving the key and keying a new one, and
    the timestamp is encoded once per second, since a send signs three tokens per
    recipient. The tests check every token against itsdangerous's.
    """

    def __init__(self, secret: str) -> None:
        self._signers = {
            purpose: TimestampSigner(
                secret, salt=f"newsletter.{purpose.value}", digest_method=hashlib.sha256
            )
            for purpose in Purpose
        }
        self._keyed = {
            purpose: hmac.new(signer.derive_key(), digestmod="sha256")
            for purpose, signer in self._signers.items()
        }
        self._second = -1
        self._stamp = b""

    def sign(self, purpose: Purpose, subject: str) -> str:
        """A URL-safe token for ``subject`` (letters, digits, '-' and '_' only)."""
        if not _SUBJECT.fullmatch(subject):
            raise ValueError(
                f"a token subject must be URL-safe (letters, digits, '-', '_'), not {subject!r}"
            )
        now = int(time.time())
        if now != self._second:
            self._stamp, self._second = _b64(int_to_bytes(now)), now
        value = subject.encode("ascii") + b"." + self._stamp
        mac = self._keyed[purpose].copy()
        mac.update(value)
        return (value + b"." + _b64(mac.digest())).decode("ascii")

    def verify(self, purpose: Purpose, token: str, *, max_age: int | None = None) -> str:
        """The subject of a valid token; :class:`InvalidToken` for anything else.

        ``max_age`` in seconds; ``None`` accepts any age (unsubscribe links never expire).
        """
        try:
            subject = self._signers[purpose].unsign(token, max_age=max_age)
        except SignatureExpired as exc:
            raise InvalidToken("this link has expired", expired=True) from exc
        except (BadSignature, UnicodeError, ValueError) as exc:
            raise InvalidToken("this link is not valid (it may have been cut or altered)") from exc
        return subject.decode("ascii")
