"""Helpers for the subscriber tests: rows made the way the application makes them, and
the web app under a real uvicorn server with its confirmation mails in a real Maildir."""

from __future__ import annotations

import email
import mailbox
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from email import policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any, cast

import pytest
import uvicorn
from fastapi import FastAPI
from sqlalchemy.orm import Session

from newsletter.config import Settings
from newsletter.db import Database, utcnow
from newsletter.tokens import TokenSigner
from newsletter.transactional import ConfirmationMailer
from newsletter.web.app import create_app
from subscribers.addresses import parse_address
from subscribers.confirmations import DrainReport, drain_confirmations
from subscribers.model import Subscriber


def add_subscriber(
    session: Session,
    email: str,
    *,
    status: str = "active",
    created_at: datetime | None = None,
    **fields: Any,
) -> Subscriber:
    """A subscriber row with a properly normalised address (flushed, so it has an id)."""
    address = parse_address(email)
    created = created_at or utcnow()
    row = Subscriber(
        email=address.email,
        email_key=address.key,
        email_hash=address.digest,
        status=status,
        created_at=created,
        confirmed_at=created if status == "active" else None,
        **fields,
    )
    session.add(row)
    session.flush()
    return row


@dataclass
class LiveServer:
    """The web app under a real uvicorn server on a loopback port, in a thread."""

    url: str
    settings: Settings
    database: Database
    outbox: Path
    app: FastAPI

    def drain(self) -> DrainReport:
        """What ``newsletter serve`` does every 2 s: send the queued confirmation mails."""
        mailer = ConfirmationMailer(self.settings.model_copy(update={"outbox": self.outbox}))
        return drain_confirmations(
            self.database,
            mailer,
            signer=TokenSigner(self.settings.signing_key()),
            public_url=self.settings.public_url,
            max_attempts=3,
        )

    def mails(self) -> list[EmailMessage]:
        if not self.outbox.exists():
            return []
        maildir = mailbox.Maildir(self.outbox)
        return [
            cast(
                EmailMessage,
                email.message_from_bytes(maildir.get_bytes(key), policy=policy.default),
            )
            for key in sorted(maildir.iterkeys())
        ]

    def confirm_link(self, to: str) -> str:
        """The link in the newest confirmation mail to ``to``."""
        for message in reversed(self.mails()):
            if to in str(message["To"]):
                body = cast(EmailMessage, message.get_body(("plain",))).get_content()
                found = re.search(r"https?://\S+/confirm/[\w.-]+", body)
                assert found, "no confirmation link in the mail"
                return found.group()
        raise AssertionError(f"no confirmation mail to {to}")


@pytest.fixture
def serve(db: Database, tmp_path: Path) -> Iterator[Callable[..., LiveServer]]:
    """Start the app (with settings overrides) under uvicorn; stopped after the test."""
    running: list[tuple[uvicorn.Server, threading.Thread, socket.socket]] = []

    def start(**overrides: Any) -> LiveServer:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        values: dict[str, Any] = {
            "database_url": db.engine.url.render_as_string(hide_password=False),
            "public_url": f"http://127.0.0.1:{port}",
            "topics": ["europe", "climate", "science"],
            "signup_rate_limit": 1000,
            "outbox": tmp_path / f"outbox-{port}",
            **overrides,
        }
        settings = Settings(**values)
        app = create_app(settings, database=db)
        server = uvicorn.Server(uvicorn.Config(app, log_level="warning", proxy_headers=False))
        thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
        thread.start()
        running.append((server, thread, sock))
        deadline = time.monotonic() + 10
        while not server.started:
            assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
            time.sleep(0.01)
        return LiveServer(settings.public_url, settings, db, settings.outbox, app)

    yield start
    for server, thread, sock in running:
        server.should_exit = True
        thread.join(10)
        sock.close()


@pytest.fixture
def live_server(serve: Callable[..., LiveServer]) -> LiveServer:
    return serve()
