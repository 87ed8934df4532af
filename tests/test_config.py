"""Settings that keep secrets secret: passwords in URLs as ***."""

from __future__ import annotations

import pytest

from newsletter.config import shown, without_password


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("smtp://u:hunter2@host:587", "smtp://u:***@host:587"),
        (
            "smtps://mail%40x.org:hunter2@host?cafile=/ca.pem",
            "smtps://mail%40x.org:***@host?cafile=/ca.pem",
        ),
        ("smtp://u:hun/ter2@host", "smtp://u:***@host"),
        ("smtp://u:hun@ter2@host", "smtp://u:***@host"),
        ("smtp://u:hun?ter2@host:25", "smtp://u:***@host:25"),
        ("smtp://:hunter2@host", "smtp://:***@host"),
        (
            "postgresql+psycopg://news:hunter2@db:5432/nl",
            "postgresql+psycopg://news:***@db:5432/nl",
        ),
        (
            "postgresql://news:hun%40ter2@db/nl?sslmode=require",
            "postgresql://news:***@db/nl?sslmode=require",
        ),
        ("postgresql://news:hun@ter2@db/nl", "postgresql://news:***@db/nl"),
        ("smtp://user@host:25", "smtp://user@host:25"),
        ("sqlite:///newsletter.db", "sqlite:///newsletter.db"),
        ("https://example.org:8443/thanks?ref=a@b", "https://example.org:8443/thanks?ref=a@b"),
    ],
)
def test_urls_are_shown_with_their_password_as_stars(url: str, expected: str) -> None:
    assert without_password(url) == expected
    assert shown(url) == expected
