"""Email addresses: validate and normalise once, so that one person has exactly one key.

``email-validator`` does the work (syntax, IDN, special-use domains) without DNS look-ups:
deliverability is the provider's business, and a signup must not wait on a resolver. The
lookup key lower-cases the local part as well as the domain: mailbox providers treat
``Ann@x.org`` and ``ann@x.org`` as one mailbox, so two rows for them would mean two mails.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from email_validator import EmailNotValidError, validate_email

from newsletter.errors import InvalidInput

MAX_LENGTH = 320


@dataclass(frozen=True, slots=True)
class Address:
    """A valid address: as shown (``email``), as looked up (``key``) and as hashed (``digest``)."""

    email: str
    key: str
    digest: str


def email_digest(key: str) -> str:
    """The SHA-256 (hex) of a lookup key: what a suppression stores instead of the address."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


UNDELIVERABLE_LOCAL_PART = (
    "has non-ASCII characters before the @: the configured mail provider cannot deliver "
    "to such an address (it needs SMTPUTF8)"
)


def parse_address(value: str, *, field: str = "email", ascii_local_part: bool = False) -> Address:
    """The normalised address, or :class:`InvalidInput` naming ``field`` and the reason.

    ``ascii_local_part`` refuses ``zoë@example.org``: for a new recipient when the provider
    cannot deliver to it (:mod:`newsletter.delivery.capabilities`); a lookup of a known
    address takes whatever was stored."""
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput(field, "an email address is required")
    if len(value) > MAX_LENGTH:
        raise InvalidInput(field, f"is longer than {MAX_LENGTH} characters")
    if "\r" in value or "\n" in value:
        raise InvalidInput(field, "must be on one line (it contains a line break)")
    try:
        result = validate_email(value.strip(), check_deliverability=False)
    except EmailNotValidError as exc:
        raise InvalidInput(field, f"is not a valid email address: {exc}") from exc
    if ascii_local_part and not result.local_part.isascii():
        raise InvalidInput(field, UNDELIVERABLE_LOCAL_PART)
    key = f"{result.local_part.lower()}@{result.ascii_domain}"
    return Address(email=result.normalized, key=key, digest=email_digest(key))


def address_key(value: str) -> str:
    """The lookup key of an address (for finding a subscriber by what a person typed)."""
    return parse_address(value).key
