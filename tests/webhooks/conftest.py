"""Fixtures for the webhook tests: the loopback receiver, settings that may reach it, a
clock the test moves, and an endpoint registered for every event."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from newsletter.config import Settings, get_settings
from newsletter.db import Database, utcnow
from newsletter.webhooks.endpoints import NewEndpoint, add_endpoint
from newsletter.webhooks.model import EVENT_TYPES
from tests.webhooks.receiver import (  # noqa: F401  (fixtures)
    Receiver,
    certificate,
    https_receiver,
    receiver,
)


class Clock:
    """Now, as the sender sees it; the test moves it on."""

    def __init__(self) -> None:
        self.now = utcnow()

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def settings(db: Database, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("NEWSLETTER_WEBHOOK_TIMEOUT_SECONDS", "0.5")
    monkeypatch.setenv("NEWSLETTER_WEBHOOKS_ALLOW_PRIVATE_ADDRESSES", "true")
    get_settings.cache_clear()  # the CLI and the web app read them too
    return Settings()


def register(db: Database, url: str, events: list[str] | None = None) -> NewEndpoint:
    with db.transaction() as session:
        return add_endpoint(
            session, url, events or list(EVENT_TYPES), created_by="test", allow_private=True
        )


@pytest.fixture
def endpoint(db: Database, receiver: Receiver) -> NewEndpoint:  # noqa: F811
    return register(db, receiver.url)
