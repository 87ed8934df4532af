"""Transactional mail (the double opt-in confirmation, the sunset policy's "keep me
subscribed" question, a fresh preferences link asked for) through the pipeline and the provider.

Each email is compiled once from the render pipeline's template, like a digest variant, and
each mail only fills its placeholders (name, signed links) before it goes through the
configured provider, the same one campaigns use: the local Maildir outbox by default, SMTP
or SendGrid in production. It satisfies the subscribers package's ``TransactionalMailer``
protocol without importing it (the kernel knows nothing of them).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
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
    list_unsubscribe_headers,
    message_from_us,
)
from newsletter.delivery.factory import make_provider
from newsletter.errors import DeliveryError
from newsletter.render.compile import compile_confirmation, compile_fresh_link, compile_keep
from newsletter.render.context import CompileContext
from newsletter.render.recipient import (
    CONFIRM_URL,
    FIRST_NAME,
    FIRST_NAME_HTML,
    KEEP_URL,
    PREFERENCES_URL,
    UNSUBSCRIBE_URL,
    clean_name,
)
from newsletter.render.variant import CompiledVariant

Compiler = Callable[[CompileContext], CompiledVariant]


class ConfirmationMailer:
    """Sends one transactional mail per call; raises ``DeliveryError`` when it was refused."""

    def __init__(self, settings: Settings, provider: Provider | None = None) -> None:
        self.settings = settings
        self.provider = provider or make_provider(settings)
        self._compiled: dict[str, tuple[date, CompiledVariant]] = {}
        self._lock = threading.Lock()

    def _email(self, kind: str, compiler: Compiler) -> CompiledVariant:
        """The compiled email, recompiled when the day changes (it shows the date)."""
        today = utcnow().date()
        with self._lock:
            found = self._compiled.get(kind)
            if found is None or found[0] != today:
                context = CompileContext.from_settings(self.settings, today, variant=kind)
                found = self._compiled[kind] = (today, compiler(context))
            return found[1]

    def send_confirmation(self, email: str, name: str | None, confirm_url: str) -> None:
        compiled = self._email("confirm", compile_confirmation)
        self._send(compiled, "confirmation", email, name, {CONFIRM_URL: confirm_url})

    def send_keep(
        self,
        email: str,
        name: str | None,
        *,
        keep_url: str,
        preferences_url: str,
        unsubscribe_url: str,
    ) -> None:
        """The "keep me subscribed" question, with RFC 8058 one-click unsubscribe headers."""
        compiled = self._email("keep", compile_keep)
        links = {
            KEEP_URL: keep_url,
            PREFERENCES_URL: preferences_url,
            UNSUBSCRIBE_URL: unsubscribe_url,
        }
        headers = list_unsubscribe_headers(unsubscribe_url, self.settings.unsubscribe_mailto)
        self._send(compiled, "keep", email, name, links, headers)

    def send_fresh_link(
        self, email: str, name: str | None, *, preferences_url: str, unsubscribe_url: str
    ) -> None:
        """A fresh preferences link, asked for on the page of a link that did not work."""
        compiled = self._email("fresh-link", compile_fresh_link)
        links = {PREFERENCES_URL: preferences_url, UNSUBSCRIBE_URL: unsubscribe_url}
        self._send(compiled, "fresh-link", email, name, links)

    def _send(
        self,
        compiled: CompiledVariant,
        kind: str,
        email: str,
        name: str | None,
        links: Mapping[str, str],
        headers: Mapping[str, str] | None = None,
    ) -> None:
        first_name = clean_name(name) or compiled.name_fallback
        values = {
            FIRST_NAME: first_name,
            FIRST_NAME_HTML: escape(first_name, quote=True),
            **links,
        }
        message = message_from_us(self.settings, compiled, categories=labels(self.provider, kind))
        needed = {key: values[key] for key in compiled.placeholders}
        recipient = Recipient(
            key=kind, email=email, name=name, substitutions=needed, headers=headers or {}
        )
        (result,) = self.provider.send(Batch(message, [recipient]))
        if result.status != RecipientStatus.SENT:
            raise DeliveryError(f"the {kind} mail to {email} was refused: {result.error}")

    def close(self) -> None:
        self.provider.close()
