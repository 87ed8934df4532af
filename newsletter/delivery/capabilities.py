"""What each provider can deliver to, for the checks made before anything is queued.

An address is refused at signup, import or a test send when the configured provider could
never deliver to it; queued, it would only fail (or be retried) at every send.
"""

from __future__ import annotations

from newsletter.config import ProviderName

# Providers that can send to a non-ASCII local part (``zoë@example.org``), which needs the
# SMTPUTF8 extension (RFC 6531) end to end. None yet: the SMTP sender and the outbox's MIME
# builder do not speak it, and SendGrid's v3 mail-send API documents no support for it.
# A provider that gains it is added here, and its readers are accepted from then on.
SMTPUTF8_PROVIDERS: frozenset[ProviderName] = frozenset()


def delivers_unicode_local_parts(provider: ProviderName) -> bool:
    return provider in SMTPUTF8_PROVIDERS
