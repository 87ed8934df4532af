"""Which provider to send with: the one place that builds providers from the settings."""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import Any

from newsletter.config import ProviderName, Settings
from newsletter.deliverability.dkim import DkimSigner
from newsletter.delivery.base import BaseProvider, Feature, Provider
from newsletter.delivery.outbox import OutboxProvider
from newsletter.delivery.sendgrid import SendGridProvider
from newsletter.delivery.smtp import SmtpConfig, SmtpProvider
from newsletter.errors import ConfigurationError

PROVIDER_CLASSES: dict[ProviderName, type[BaseProvider[Any, Any]]] = {
    "outbox": OutboxProvider,
    "smtp": SmtpProvider,
    "sendgrid": SendGridProvider,
}


def features_of(name: ProviderName) -> frozenset[Feature]:
    """The options provider ``name`` honours (known without building it: no credentials)."""
    return PROVIDER_CLASSES[name].features


MAX_BATCH_SIZE = min(
    OutboxProvider.max_batch_size, SmtpProvider.max_batch_size, SendGridProvider.max_batch_size
)
"""The largest batch every provider takes (a worker may send through any of them)."""


def make_provider(settings: Settings, name: ProviderName | None = None) -> Provider:
    """Provider ``name`` (by default the one ``NEWSLETTER_PROVIDER`` names), configured from
    ``settings``; a clear error if it cannot be.

    One provider object serves every thread of a worker (see ``newsletter.delivery.base``);
    call ``close()`` when the worker stops. SMTP and outbox sign with the DKIM key the
    settings name, read here once.
    """
    name = name or settings.provider
    which = f"NEWSLETTER_PROVIDER={name}" if name == settings.provider else f"sending with {name}"
    if name == "smtp":
        if not settings.smtp_url:
            raise ConfigurationError(
                f"{which} needs NEWSLETTER_SMTP_URL, e.g. "
                "smtp://user:password@mail.example.org:587 or smtps://…:465"
            )
        config = SmtpConfig.from_url(settings.smtp_url, timeout=settings.smtp_timeout)
        return SmtpProvider(config, signer=DkimSigner.from_settings(settings))
    if name == "sendgrid":
        key = settings.sendgrid_api_key.get_secret_value() if settings.sendgrid_api_key else ""
        if not key.strip():
            raise ConfigurationError(
                f"{which} needs an API key in SENDGRID_API_KEY (or NEWSLETTER_SENDGRID_API_KEY)"
            )
        return SendGridProvider(
            key.strip(),
            host=settings.sendgrid_host,
            timeout=settings.sendgrid_timeout,
            sandbox=settings.sendgrid_sandbox,
        )
    return OutboxProvider(settings.outbox, signer=DkimSigner.from_settings(settings))


class ProviderPool:
    """A worker's providers by name, each built the first time something asks for it.

    A campaign's variants are frozen with the *name* of the provider that sends them; the
    credentials and hosts (``NEWSLETTER_SMTP_URL``, the SendGrid key and host, the outbox
    folder) always come from this process's settings, because secrets must never be stored
    in the database. A name these settings cannot serve raises ``ConfigurationError``: the
    caller must stop, never fall back to another provider. ``given`` are providers made
    already (tests, embedding), used for their own names.
    """

    def __init__(self, settings: Settings, given: Iterable[Provider] = ()) -> None:
        self.settings = settings
        self._made: dict[str, Provider] = {}
        self._given = {provider.name: provider for provider in given}
        self._lock = threading.Lock()

    def get(self, name: ProviderName) -> Provider:
        with self._lock:
            provider = self._given.get(name) or self._made.get(name)
            if provider is None:
                provider = self._made[name] = make_provider(self.settings, name)
            return provider

    def close(self) -> None:
        """Close the providers this pool built (not the ``given`` ones: their owner does)."""
        with self._lock:
            made, self._made = list(self._made.values()), {}
        for provider in made:
            provider.close()
