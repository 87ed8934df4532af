"""Which confirmation mailer the commands use: the seam where the real mailer plugs in.

Today: the stdlib Maildir mailer of :mod:`subscribers.maildir_mailer` when the provider is
the local outbox (the embedded default). The real confirmation mail (the render pipeline's
template sent through the configured provider, SMTP and SendGrid included) is wired here by
whoever integrates delivery: anything with ``send_confirmation(email, name, confirm_url)``.
"""

from __future__ import annotations

from newsletter.config import Settings
from newsletter.db import Database
from newsletter.tokens import TokenSigner
from subscribers.confirmations import ConfirmationMailer, ConfirmationSender
from subscribers.maildir_mailer import MaildirConfirmationMailer


def confirmation_mailer(settings: Settings) -> ConfirmationMailer | None:
    """The mailer for ``settings``, or ``None`` when none is wired for its provider yet."""
    if settings.provider == "outbox":
        return MaildirConfirmationMailer(
            settings.outbox,
            from_email=settings.from_email,
            from_name=settings.from_name,
            newsletter_name=settings.newsletter_name,
        )
    return None


def confirmation_sender(settings: Settings, database: Database) -> ConfirmationSender | None:
    """What sends queued confirmation mails for ``settings``; ``None`` without a mailer."""
    mailer = confirmation_mailer(settings)
    if mailer is None:
        return None
    return ConfirmationSender(
        database,
        mailer,
        signer=TokenSigner(settings.signing_key()),
        public_url=settings.public_url,
        max_attempts=settings.confirmation_max_attempts,
    )
