"""`newsletter serve`: the web app under uvicorn, plus the confirmation-mail sender."""

from __future__ import annotations

import logging
from typing import Annotated

import typer
import uvicorn

from newsletter.cli.common import console, open_db
from newsletter.cli.mailers import confirmation_sender
from newsletter.config import get_settings


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
) -> None:
    """Serve the public pages (signup, confirm, preferences, unsubscribe) and their API."""
    settings = get_settings()
    database = open_db()  # migrate once, before any worker starts
    logging.basicConfig(level=logging.INFO, format="%(levelname)s: %(name)s: %(message)s")
    sender = confirmation_sender(settings, database) if send_confirmations else None
    if sender is not None:
        sender.start()
    console.print(f"serving on http://{host}:{port}/subscribe (public URL {settings.public_url})")
    try:
        uvicorn.run(
            "newsletter.web.app:served_app",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            proxy_headers=True,
            forwarded_allow_ips=settings.forwarded_allow_ips,
            server_header=False,
            access_log=False,
        )
    finally:
        if sender is not None:
            sender.stop()
        database.dispose()
