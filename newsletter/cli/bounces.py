"""`newsletter bounces poll`: read the bounce mailbox of SMTP and outbox sends into events.

The work is in :mod:`campaigns.bounces` (what a message means) and
:mod:`newsletter.deliverability.mailboxes` (IMAP or Maildir); this reads the settings, runs
one poll or keeps polling, and prints what each poll did. Mailbox URLs are shown without
their password.
"""

from __future__ import annotations

import signal
import threading
from pathlib import Path
from typing import Annotated

import typer

from campaigns.bounces import BouncePoller, PollResult
from newsletter.cli.common import console, err_console, opened_db
from newsletter.config import Settings, get_settings
from newsletter.deliverability.mailboxes import BounceMailbox, open_mailbox
from newsletter.errors import ConfigurationError, NewsletterError

app = typer.Typer(help="Bounces and complaints for SMTP and outbox sends.", no_args_is_help=True)


@app.command("poll")
def poll_command(
    imap: Annotated[
        str | None,
        typer.Option(help="IMAP mailbox: imaps://user:pass@host/INBOX (or imap:// on loopback)."),
    ] = None,
    maildir: Annotated[
        Path | None, typer.Option(help="A local Maildir that receives the bounces.")
    ] = None,
    once: Annotated[
        bool, typer.Option("--once", help="Poll once and exit (cron, systemd timer).")
    ] = False,
    interval: Annotated[
        float | None,
        typer.Option(
            min=1.0, help="Seconds between polls (default NEWSLETTER_BOUNCE_POLL_SECONDS)."
        ),
    ] = None,
) -> None:
    """Read bounces and complaints into events; move each message to processed or review."""
    settings = get_settings()
    imap, maildir = _source(settings, imap, maildir)
    with opened_db() as database:
        poller = BouncePoller(database, settings)
        if once:
            _report(_poll_once(poller, imap, maildir))
            return
        stop = threading.Event()  # SIGINT/SIGTERM end the loop after the poll in progress
        signal.signal(signal.SIGINT, lambda *_: stop.set())
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        wait = interval or settings.bounce_poll_seconds
        while not stop.is_set():
            try:
                result = _poll_once(poller, imap, maildir)
                if result.messages:  # an idle poll says nothing
                    _report(result)
            except NewsletterError as exc:  # a mailbox away for a while: say so, try again
                err_console.print(f"error: {exc}", markup=False, soft_wrap=True)
            stop.wait(wait)


def _source(
    settings: Settings, imap: str | None, maildir: Path | None
) -> tuple[str | None, Path | None]:
    if imap is not None or maildir is not None:
        return imap, maildir
    configured = settings.bounce_mailbox
    if not configured:
        raise ConfigurationError(
            "give --imap URL or --maildir DIR (or set NEWSLETTER_BOUNCE_MAILBOX)"
        )
    if configured.startswith(("imap://", "imaps://")):
        return configured, None
    return None, Path(configured)


def _poll_once(poller: BouncePoller, imap: str | None, maildir: Path | None) -> PollResult:
    mailbox: BounceMailbox = open_mailbox(imap=imap, maildir=maildir)
    try:
        return poller.poll(mailbox)
    finally:
        mailbox.close()


def _report(result: PollResult) -> None:
    console.print(
        f"{result.messages} message(s): {result.processed} processed, "
        f"{result.reviewed} kept for review; {result.recorded} event(s) recorded, "
        f"{result.duplicates} already known, {result.unmatched} tied to no delivery",
        markup=False,
        soft_wrap=True,
    )
