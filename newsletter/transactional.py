"""Transactional mail (the double opt-in confirmation) through the pipeline and the provider.

The confirmation email is compiled once from the render pipeline's template, like a digest
variant, and each mail only fills its placeholders (name, confirmation link) before it goes
through the configured provider, the same one campaigns use: the local Maildir outbox by
default, SMTP or SendGrid in production. It satisfies the subscribers package's
``ConfirmationMailer`` protocol without importing it (the kernel knows nothing of them).
"""

from __future__ import annotations

import threading
from datetime import date
from html import escape

from newsletter.config import Settings
from newsletter.db import utcnow
from newsletter.delivery.base import (
    Batch,
    Provider,
    Recipient,
    RecipientStatus,
    labels,
    message_from_us,
)
from newsletter.delivery.factory import make_provider
from newsletter.errors import DeliveryError
from newsletter.render.compile import compile_confirmation
from newsletter.render.context import CompileContext
from newsletter.render.recipient import CONFIRM_URL, FIRST_NAME, FIRST_NAME_HTML, clean_name
from newsletter.render.variant import CompiledVariant


class ConfirmationMailer:
    """Sends one double opt-in mail per call; raises ``DeliveryError`` when it was refused."""

    def __init__(self, settings: Settings, provider: Provider | None = None) -> None:
        self.settings = settings
        self.provider = provider or make_provider(settings)
        self._compiled: tuple[date, CompiledVariant] | None = None
        self._lock = threading.Lock()

    def _email(self) -> CompiledVariant:
        """The compiled confirmation, recompiled when the day changes (it shows the date)."""
        today = utcnow().date()
        with self._lock:
            if self._compiled is None or self._compiled[0] != today:
                context = CompileContext.from_settings(self.settings, today, variant="confirm")
                self._compiled = (today, compile_confirmation(context))
            return self._compiled[1]

    def send_confirmation(self, email: str, name: str | None, confirm_url: str) -> None:
        compiled = self._email()
        first_name = clean_name(name) or compiled.name_fallback
        values = {
            FIRST_NAME: first_name,
            FIRST_NAME_HTML: escape(first_name, quote=True),
            CONFIRM_URL: confirm_url,
        }
        categories = labels(self.provider, "confirmation")
        message = message_from_us(self.settings, compiled, categories=categories)
        needed = {key: values[key] for key in compiled.placeholders}
        recipient = Recipient(key="confirmation", email=email, name=name, substitutions=needed)
        (result,) = self.provider.send(Batch(message, [recipient]))
        if result.status != RecipientStatus.SENT:
            raise DeliveryError(f"the confirmation mail to {email} was refused: {result.error}")

    def close(self) -> None:
        self.provider.close()
