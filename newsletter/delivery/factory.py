"""Which provider to send with, from the settings: the one place that chooses."""

from __future__ import annotations

from newsletter.config import Settings
from newsletter.delivery.base import Provider
from newsletter.delivery.outbox import OutboxProvider
from newsletter.delivery.sendgrid import SendGridProvider
from newsletter.delivery.smtp import SmtpConfig, SmtpProvider
from newsletter.errors import ConfigurationError


def make_provider(settings: Settings) -> Provider:
    """The provider ``NEWSLETTER_PROVIDER`` names, configured; a clear error if it cannot be.

    One provider object serves every thread of a worker (see ``newsletter.delivery.base``);
    call ``close()`` when the worker stops.
    """
    if settings.provider == "smtp":
        if not settings.smtp_url:
            raise ConfigurationError(
                "NEWSLETTER_PROVIDER=smtp needs NEWSLETTER_SMTP_URL, e.g. "
                "smtp://user:password@mail.example.org:587 or smtps://…:465"
            )
        return SmtpProvider(SmtpConfig.from_url(settings.smtp_url, timeout=settings.smtp_timeout))
    if settings.provider == "sendgrid":
        key = settings.sendgrid_api_key.get_secret_value() if settings.sendgrid_api_key else ""
        if not key.strip():
            raise ConfigurationError(
                "NEWSLETTER_PROVIDER=sendgrid needs an API key in SENDGRID_API_KEY "
                "(or NEWSLETTER_SENDGRID_API_KEY)"
            )
        return SendGridProvider(
            key.strip(),
            host=settings.sendgrid_host,
            timeout=settings.sendgrid_timeout,
            sandbox=settings.sendgrid_sandbox,
        )
    return OutboxProvider(settings.outbox)
