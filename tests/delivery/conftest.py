"""Delivery fixtures: a real SMTP server (aiosmtpd) and the fake SendGrid server on loopback."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.fakes.fixtures import sendgrid_process, sendgrid_server
from tests.fakes.smtp_server import Certificate, FakeSmtpServer, make_certificate


@pytest.fixture(scope="session")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> Certificate:
    """A self-signed certificate for 127.0.0.1, made once per run."""
    return make_certificate(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def smtp_server_factory() -> Iterator[Callable[..., FakeSmtpServer]]:
    """Start SMTP servers with the options a test needs; all are stopped afterwards."""
    started: list[FakeSmtpServer] = []

    def start(**options: Any) -> FakeSmtpServer:
        server = FakeSmtpServer(**options)
        server.start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def smtp_server(smtp_server_factory: Callable[..., FakeSmtpServer]) -> FakeSmtpServer:
    """A plain SMTP server: no TLS, no AUTH."""
    return smtp_server_factory()


__all__ = ["sendgrid_process", "sendgrid_server"]
