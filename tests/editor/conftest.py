"""Helpers for the editor tests: accounts, a logged-in HTTP client against the real server
(uvicorn on loopback, from tests/subscribers), and reading CSRF tokens out of pages."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from newsletter.db import Database
from newsletter.editors.accounts import create_editor
from tests.subscribers.conftest import LiveServer, serve  # noqa: F401  (the server fixture)

PASSWORD = "correct horse battery staple"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def add_editor(db: Database, email: str, role: str = "editor", password: str = PASSWORD) -> None:
    with db.transaction() as session:
        create_editor(session, email, password, role)


def csrf_of(html: str) -> str:
    found = _CSRF.search(html)
    assert found, "the page has no form with a CSRF token"
    return found.group(1)


def flashes(html: str) -> list[str]:
    return [text.strip() for text in re.findall(r'<p class="flash[^"]*"[^>]*>([^<]*)</p>', html)]


@dataclass
class Editor:
    """An HTTP client with an editor's session, and the session's CSRF token."""

    http: httpx.Client
    csrf: str

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.http.get(path, **kwargs)

    def post(self, path: str, data: dict[str, Any] | None = None, **kwargs: Any) -> httpx.Response:
        return self.http.post(path, data={"csrf_token": self.csrf, **(data or {})}, **kwargs)

    def __enter__(self) -> Editor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.http.close()

    def follow(self, answer: httpx.Response) -> httpx.Response:
        """The page a 303 leads to."""
        assert answer.status_code == 303, (answer.status_code, answer.text[:500])
        return self.http.get(answer.headers["location"])


def client(server: LiveServer) -> httpx.Client:
    return httpx.Client(base_url=server.url, timeout=30, follow_redirects=False)


def log_in(server: LiveServer, email: str, password: str = PASSWORD) -> Editor:
    http = client(server)
    token = csrf_of(http.get("/editor/login").text)
    answer = http.post(
        "/editor/login", data={"email": email, "password": password, "csrf_token": token}
    )
    assert answer.status_code == 303, answer.text[:500]
    return Editor(http, csrf_of(http.get("/editor/campaigns").text))


@pytest.fixture
def site(serve: Callable[..., LiveServer]) -> LiveServer:  # noqa: F811
    return serve()


@pytest.fixture
def editor(db: Database, site: LiveServer) -> Iterator[Editor]:
    add_editor(db, "ann@example.org")
    logged_in = log_in(site, "ann@example.org")
    yield logged_in
    logged_in.http.close()


@pytest.fixture
def admin(db: Database, site: LiveServer) -> Iterator[Editor]:
    add_editor(db, "root@example.org", role="admin")
    logged_in = log_in(site, "root@example.org")
    yield logged_in
    logged_in.http.close()
