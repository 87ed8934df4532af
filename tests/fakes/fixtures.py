"""Pytest fixtures for the fake servers; conftest files import the ones they need."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fakes.sendgrid_server import FakeSendGrid, FakeSendGridProcess


@pytest.fixture
def sendgrid_server() -> Iterator[FakeSendGrid]:
    """A fresh fake SendGrid in a thread of this process (key ``DEFAULT_KEY``)."""
    fake = FakeSendGrid().start()
    yield fake
    fake.stop()


@pytest.fixture
def sendgrid_process() -> Iterator[FakeSendGridProcess]:
    """The fake SendGrid as a separate process, for tests that run several processes."""
    fake = FakeSendGridProcess()
    yield fake
    fake.stop()
