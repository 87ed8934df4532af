"""The public URLs an email points at; the web app must serve exactly these paths.

Kept in one place so the subscriber pages, the tracking endpoints and the emails agree.
Every token is URL-safe (``itsdangerous``), so a URL built here needs no escaping in HTML.
"""

from __future__ import annotations

UNSUBSCRIBE = "/unsubscribe/"
PREFERENCES = "/preferences/"
VIEW_ONLINE = "/view/"
CONFIRM = "/confirm/"
KEEP = "/keep/"
ARCHIVE = "/archive"
LATEST_ISSUE = "/archive/latest"
CLICK = "/t/c/"
OPEN = "/t/o/"


def click_url(public_url: str, token: str, link_id: str) -> str:
    """The first-party redirect for one link: ``/t/c/<tracking token>/<link id>``."""
    return f"{public_url}{CLICK}{token}/{link_id}"


def open_pixel_url(public_url: str, token: str) -> str:
    """The first-party open pixel: ``/t/o/<tracking token>.gif``."""
    return f"{public_url}{OPEN}{token}.gif"
