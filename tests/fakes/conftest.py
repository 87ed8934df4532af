"""Fixtures for the fake servers' own tests."""

from tests.fakes.fixtures import sendgrid_process, sendgrid_server

__all__ = ["sendgrid_process", "sendgrid_server"]
