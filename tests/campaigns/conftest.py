"""Fixtures for campaign tests: the fake servers from tests/fakes."""

from tests.fakes.fixtures import sendgrid_process, sendgrid_server  # noqa: F401
