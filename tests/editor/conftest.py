"""Helpers for the editor tests: accounts, a logged-in HTTP client against the real server
(uvicorn on loopback, from tests/subscribers), reading CSRF tokens out of pages, and an
issue sent to two segments and read (for the report pages)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
import pytest

from newsletter.db import Database, utcnow
from newsletter.editors.accounts import create_editor
from tests.campaigns.helpers import (
    SentIssue,
    add_tech_and_economy,
    add_topic_readers,
    import_cited_brief,
    import_examples,
    links_by_section,
    new_campaign,
    send_issue,
)
from tests.campaigns.webhooks import SiteClock
from tests.subscribers.conftest import LiveServer, serve  # noqa: F401  (the server fixture)

PASSWORD = "correct horse battery staple"
HUMAN = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
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


# --- an issue and its readers, for the report pages ---------------------------------------


def open_mail(http: httpx.Client, token: str, agent: str = HUMAN) -> None:
    assert http.get(f"/t/o/{token}.gif", headers={"User-Agent": agent}).status_code == 200


def click(http: httpx.Client, token: str, link: dict[str, str], agent: str = HUMAN) -> None:
    answer = http.get(f"/t/c/{token}/{link['link_id']}", headers={"User-Agent": agent})
    assert answer.status_code == 302, answer.text


def sent_and_read(db: Database, site: LiveServer) -> SentIssue:
    """An issue to tech (5 readers, facts only) and economy (4), read like this: in tech
    reader0 (twice), reader1 and reader2 open, reader0 and reader1 click a fact's source; in
    economy reader100 opens and clicks a narrative's source, Apple's proxy fetches reader101's
    pixel, and a mail scanner follows a link in reader102's mail."""
    import_examples(db)
    cited = import_cited_brief(db)
    add_tech_and_economy(db)
    add_topic_readers(db)
    campaign_id = new_campaign(db, segments=["tech", "economy"], more_briefs=[cited])
    issue = send_issue(db, site.settings, campaign_id)
    tokens = issue.tokens
    tech = links_by_section(db, issue.variants["reader0@example.org"])
    economy = links_by_section(db, issue.variants["reader100@example.org"])
    clock = SiteClock(site, utcnow())
    with client(site) as http:
        for reader in (0, 0, 1, 2, 100):
            clock.now += timedelta(minutes=1)  # reader0's second open is one of its own
            open_mail(http, tokens[f"reader{reader}@example.org"])
        open_mail(http, tokens["reader101@example.org"], "Mozilla/5.0")
        for reader in (0, 1):
            click(http, tokens[f"reader{reader}@example.org"], tech["fact-citation"][0])
        click(http, tokens["reader100@example.org"], economy["narrative"][0])
        click(http, tokens["reader102@example.org"], economy["fact-citation"][0], "Mimecast/1.0")
    return issue


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
