"""Deliverability fixtures: a DNS server on loopback with zone fixtures, and the SMTP server."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.delivery.conftest import smtp_server, smtp_server_factory
from tests.fakes.dns_server import LoopbackDns


@pytest.fixture
def dns_server() -> Iterator[LoopbackDns]:
    """A dnslib server on 127.0.0.1 (UDP and TCP, one ephemeral port); ``.zone.load(text)``
    sets what it answers."""
    server = LoopbackDns()
    server.start()
    yield server
    server.stop()


__all__ = ["smtp_server", "smtp_server_factory"]
