"""Batches that look like a real digest: placeholders in subject, HTML and text, tracking ids."""

from __future__ import annotations

import threading
from collections.abc import Callable
from email.message import EmailMessage

from newsletter.delivery.base import Batch, Message, Recipient, list_unsubscribe_headers

FIRST_NAME = "%%nl_first_name%%"
UNSUBSCRIBE = "%%nl_unsubscribe_url%%"
TOKEN = "%%nl_token%%"

HTML = (
    "<!doctype html><html><body><p>Hello " + FIRST_NAME + ",</p>"
    "<p>This week: ceasefire talks resume — “constructive”, officials say.</p>"
    '<img src="https://news.example.org/o/' + TOKEN + '.gif" alt="">'
    '<p><a href="' + UNSUBSCRIBE + '">Unsubscribe</a></p></body></html>'
)
TEXT = (
    "Hello " + FIRST_NAME + ",\n\nThis week: ceasefire talks resume — “constructive”.\n\n"
    "Unsubscribe: " + UNSUBSCRIBE + "\n"
)


def message(**overrides: object) -> Message:
    fields: dict[str, object] = {
        "subject": "The Briefing for " + FIRST_NAME + " · week 48",
        "html": HTML,
        "text": TEXT,
        "from_email": "briefing@news.example.org",
        "from_name": "The Briefing",
        "reply_to": "editors@news.example.org",
        "categories": ("digest", "2026-W48"),
        "track_opens": True,
        "track_clicks": True,
        "custom_args": {"campaign_id": "7", "variant_id": "12"},
    }
    fields.update(overrides)
    return Message(**fields)  # type: ignore[arg-type]


def recipient(index: int, *, name: str | None = None, email: str | None = None) -> Recipient:
    url = f"https://news.example.org/u/{index}-sig"
    return Recipient(
        key=str(1000 + index),
        email=email or f"reader{index}@example.com",
        name=name if name is not None else f"Reader {index}",
        substitutions={
            FIRST_NAME: name.split()[0] if name else f"Reader{index}",
            UNSUBSCRIBE: url,
            TOKEN: f"tok{index}",
        },
        custom_args={"delivery_id": str(1000 + index), "segment": "everyone"},
        headers=list_unsubscribe_headers(url, mailto=f"unsubscribe+{index}@news.example.org"),
    )


def batch(count: int, **overrides: object) -> Batch:
    return Batch(message(**overrides), [recipient(i) for i in range(count)])


def filled(text: str, rcpt: Recipient) -> str:
    for placeholder, value in rcpt.substitutions.items():
        text = text.replace(placeholder, value)
    return text


def in_threads(count: int, work: Callable[[int], None]) -> None:
    """Run ``work(0) … work(count - 1)`` at once, one thread each; re-raise the first error."""
    errors: list[BaseException] = []

    def run(index: int) -> None:
        try:
            work(index)
        except BaseException as exc:  # re-raised below, in the caller's thread
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]


def lines(text: str) -> str:
    """Text with its line breaks as ``\\n``. A text part's line breaks travel as the wire's
    (CRLF over SMTP, canonical MIME), so decoded parts are compared line by line."""
    return text.replace("\r\n", "\n")


def content(part: EmailMessage) -> str:
    """A decoded body part, line breaks as ``\\n``."""
    return lines(part.get_content())
