"""Which confirmation mailer the commands use: the render pipeline's confirmation email sent
through the configured provider (the local Maildir outbox by default, SMTP or SendGrid)."""

from __future__ import annotations

from newsletter.config import Settings
from newsletter.db import Database
from newsletter.tokens import TokenSigner
from newsletter.transactional import ConfirmationMailer
from subscribers.confirmations import ConfirmationSender


def confirmation_sender(settings: Settings, database: Database) -> ConfirmationSender:
    """What sends queued confirmation mails for ``settings``."""
    return ConfirmationSender(
        database,
        ConfirmationMailer(settings),
        signer=TokenSigner(settings.signing_key()),
        public_url=settings.public_url,
        max_attempts=settings.confirmation_max_attempts,
    )
