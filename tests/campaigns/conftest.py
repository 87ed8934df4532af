"""Fixtures for campaign tests: the fake servers from tests/fakes, the web app under uvicorn."""

from tests.fakes.fixtures import sendgrid_process, sendgrid_server  # noqa: F401
from tests.subscribers.conftest import serve  # noqa: F401
