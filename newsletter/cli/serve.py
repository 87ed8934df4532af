"""`newsletter serve`: the web app under uvicorn, plus the confirmation-mail sender and
(unless turned off) a background scheduler and send worker for campaigns."""

from __future__ import annotations

import logging
from typing import Annotated

import typer
import uvicorn

from campaigns.background import BackgroundWorker
from campaigns.routes import sendgrid_events_notice
from newsletter.cli.common import console, open_db
from newsletter.cli.mailers import confirmation_sender
from newsletter.config import get_settings
from newsletter.gc_tuning import tune_for_sending


def serve_command(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    workers: Annotated[int, typer.Option(help="Server processes (each has its own pool).")] = 1,
    send_confirmations: Annotated[
        bool,
        typer.Option(
            "--send-confirmations/--no-send-confirmations",
            help="Send queued confirmation mails from this process (every 2 s).",
        ),
    ] = True,
    worker: Annotated[
        bool | None,
        typer.Option(
            "--worker/--no-worker",
            help="Also start and send campaigns from this process "
            "(default: NEWSLETTER_SERVE_WORKER, on).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Serve the public pages, the archive and the editor (at /editor), and their APIs."""
    settings = get_settings()
    database = open_db()  # migrate once, before any worker starts
    logging.basicConfig(level=logging.INFO, format="%(levelname)s: %(name)s: %(message)s")
    settings.signing_key()  # a refused key stops us here; a new one is made (and said) once
    sender = confirmation_sender(settings, database) if send_confirmations else None
    if sender is not None:
        sender.start()
    background = None
    if settings.serve_worker if worker is None else worker:
        tune_for_sending()  # campaigns are sent from this process (server processes: served_app)
        background = BackgroundWorker(database, settings)
        background.start()
        console.print("sending campaigns from this process (NEWSLETTER_SERVE_WORKER=0 stops it)")
    console.print(
        f"serving on http://{host}:{port}/subscribe and /editor (public URL {settings.public_url})"
    )
    notice = sendgrid_events_notice(settings)
    if notice is not None:
        console.print(notice)
    try:
        uvicorn.run(
            "newsletter.web.app:served_app",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            # The app reads X-Forwarded-* itself, from NEWSLETTER_FORWARDED_ALLOW_IPS only
            # (newsletter.web.app), so that it behaves the same under any server.
            proxy_headers=False,
            server_header=False,
            access_log=False,
        )
    finally:
        if background is not None:
            background.stop()
        if sender is not None:
            sender.stop()
        database.dispose()
