"""Deliverability fixtures: a DNS server on loopback with zone fixtures, and the SMTP server."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.delivery.conftest import smtp_server, smtp_server_factory
from tests.fakes.dns_server import LoopbackDns
from tests.fakes.web_pages import pages  # noqa: F401  (a fixture for the tests here)


@pytest.fixture(scope="module")
def dns_server_module() -> Iterator[LoopbackDns]:
    server = LoopbackDns()
    server.start()
    yield server
    server.stop()  # about a second (socketserver's poll): once per module, not per test


@pytest.fixture
def dns_server(dns_server_module: LoopbackDns) -> LoopbackDns:
    """A dnslib server on 127.0.0.1 (UDP and TCP, one ephemeral port), answering nothing
    until a test loads a zone with ``.zone.load(text)``."""
    dns_server_module.zone.load("")
    dns_server_module.zone.queries.clear()
    return dns_server_module


__all__ = ["smtp_server", "smtp_server_factory"]
