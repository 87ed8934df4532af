"""Choosing and configuring the provider from the environment."""

from __future__ import annotations

from pathlib import Path

import pytest

from newsletter.config import Settings
from newsletter.delivery.factory import make_provider
from newsletter.delivery.outbox import OutboxProvider
from newsletter.delivery.sendgrid import SendGridProvider
from newsletter.delivery.smtp import SmtpProvider
from newsletter.errors import ConfigurationError
from tests.delivery import samples
from tests.fakes.sendgrid_server import DEFAULT_KEY, FakeSendGrid
from tests.fakes.smtp_server import FakeSmtpServer


def test_the_outbox_is_the_default_and_writes_to_dot_outbox(tmp_path: Path) -> None:
    provider = make_provider(Settings())
    assert isinstance(provider, OutboxProvider)
    provider.send(samples.batch(2))
    assert len(list((tmp_path / "outbox" / "new").iterdir())) == 2


def test_outbox_path_from_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("NEWSLETTER_OUTBOX", str(tmp_path / "mail"))
    provider = make_provider(Settings())
    assert isinstance(provider, OutboxProvider) and provider.path == tmp_path / "mail"


def test_sendgrid_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, sendgrid_server: FakeSendGrid
) -> None:
    monkeypatch.setenv("NEWSLETTER_PROVIDER", "sendgrid")
    monkeypatch.setenv("SENDGRID_API_KEY", DEFAULT_KEY)
    monkeypatch.setenv("NEWSLETTER_SENDGRID_HOST", sendgrid_server.url)
    monkeypatch.setenv("NEWSLETTER_SENDGRID_TIMEOUT", "4.5")
    provider = make_provider(Settings())
    assert isinstance(provider, SendGridProvider)
    assert (provider.timeout, provider.sandbox) == (4.5, False)
    assert {r.status for r in provider.send(samples.batch(3))} == {"sent"}
    assert len(sendgrid_server.recipient_counts()) == 3

    monkeypatch.setenv("NEWSLETTER_SENDGRID_SANDBOX", "true")
    sandboxed = make_provider(Settings())
    assert isinstance(sandboxed, SendGridProvider) and sandboxed.sandbox


@pytest.mark.parametrize("key", [None, "", "  "])
def test_sendgrid_without_a_key_is_a_configuration_error(
    monkeypatch: pytest.MonkeyPatch, key: str | None
) -> None:
    monkeypatch.setenv("NEWSLETTER_PROVIDER", "sendgrid")
    if key is not None:
        monkeypatch.setenv("SENDGRID_API_KEY", key)
    with pytest.raises(ConfigurationError, match="needs an API key in SENDGRID_API_KEY"):
        make_provider(Settings())


def test_smtp_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, smtp_server: FakeSmtpServer
) -> None:
    monkeypatch.setenv("NEWSLETTER_PROVIDER", "smtp")
    monkeypatch.setenv("NEWSLETTER_SMTP_URL", f"smtp://127.0.0.1:{smtp_server.port}")
    monkeypatch.setenv("NEWSLETTER_SMTP_TIMEOUT", "3")
    provider = make_provider(Settings())
    assert isinstance(provider, SmtpProvider) and provider.config.timeout == 3
    assert {r.status for r in provider.send(samples.batch(2))} == {"sent"}
    provider.close()
    assert len(smtp_server.received) == 2


def test_smtp_without_a_url_is_a_configuration_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEWSLETTER_PROVIDER", "smtp")
    with pytest.raises(ConfigurationError, match="needs NEWSLETTER_SMTP_URL"):
        make_provider(Settings())
    monkeypatch.setenv("NEWSLETTER_SMTP_URL", "mail.example.org")
    with pytest.raises(ConfigurationError, match="must look like smtp://"):
        make_provider(Settings())
