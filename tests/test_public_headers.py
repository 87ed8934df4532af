"""The public site's security headers, and honest 405 answers.

Every public answer (signup, the pages behind signed links, the archive, error pages)
carries a Content-Security-Policy and ``nosniff``; only the signup form may be framed, by
any site (docs/embedding.md). A 405 names every method the path answers.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from newsletter.config import Settings
from newsletter.db import Database
from newsletter.tokens import Purpose, TokenSigner
from newsletter.web.app import create_app
from tests.subscribers.conftest import add_subscriber

FETCH = frozenset({"get", "head", "post", "put", "patch", "delete", "options"})


@pytest.fixture
def client(db: Database, tmp_path: Path) -> Iterator[httpx.Client]:
    settings = Settings(outbox=tmp_path / "outbox", thank_you_url="https://news.example.org/t")
    with TestClient(create_app(settings, database=db), base_url="http://test") as test_client:
        yield test_client


def _policy(answer: httpx.Response) -> dict[str, str]:
    header = answer.headers.get("content-security-policy", "")
    parts = (part.strip().split(" ", 1) for part in header.split(";") if part.strip())
    return {name: value for name, value in parts}


def _links(db: Database) -> dict[str, str]:
    with db.transaction() as session:
        uid = add_subscriber(session, "ana@example.org", status="pending").uid
    signer = TokenSigner("test-secret-key-0123456789abcdef")
    return {
        "confirm": f"/confirm/{signer.sign(Purpose.CONFIRM, uid)}",
        "preferences": f"/preferences/{signer.sign(Purpose.PREFERENCES, uid)}",
        "unsubscribe": f"/unsubscribe/{signer.sign(Purpose.UNSUBSCRIBE, uid)}",
    }


def test_every_public_page_has_a_policy_and_nosniff(client: httpx.Client, db: Database) -> None:
    links = _links(db)
    html = {"Accept": "text/html"}
    answers = {
        "signup": client.get("/subscribe"),
        "signup (embedded)": client.get("/subscribe?embed=1"),
        "signup error": client.post("/subscribe", data={"email": "nope"}, headers=html),
        **{name: client.get(path) for name, path in links.items()},
        "bad link": client.get("/confirm/broken", headers=html),
        "bad preferences link": client.get("/preferences/broken", headers=html),
        "fresh link": client.get("/fresh-link"),
        "fresh link sent": client.post("/fresh-link", data={"email": "a@example.org"}),
        "fresh link error": client.post("/fresh-link", data={"email": "a@"}),
        "fresh link refused": client.post(
            "/fresh-link", data={"email": "a@example.org"}, headers={"Origin": "https://x.org"}
        ),
        "archive": client.get("/archive"),
        "not found": client.get("/no-such-page", headers=html),
        "wrong method": client.put(links["unsubscribe"], headers=html),
    }
    for name, answer in answers.items():
        policy = _policy(answer)
        assert answer.headers.get("x-content-type-options") == "nosniff", name
        assert policy.get("default-src") == "'none'", name
        assert "'unsafe-inline'" not in str(policy), name
        # scripts: only the signup form's own file (the reader's time zone), nowhere else
        scripts = policy.get("script-src")
        assert scripts == ("'self'" if name.startswith("signup") else None), name
        assert policy["style-src"] == "'self'", name
        assert policy["base-uri"] == "'none'", name
        # form posts go to us, and a signup's redirect to the configured thank-you page
        assert policy["form-action"] == "'self' https://news.example.org", name
        if name.startswith("signup"):
            assert policy["frame-ancestors"] == "*", name  # any site may embed the form
            assert "x-frame-options" not in answer.headers, name
        else:
            assert policy["frame-ancestors"] == "'none'", name
            assert answer.headers["x-frame-options"] == "DENY", name


def test_the_public_stylesheet_is_served_to_the_pages_that_link_it(client: httpx.Client) -> None:
    page = client.get("/subscribe")
    assert '<link rel="stylesheet" href="/static/public.css">' in page.text
    assert "<style" not in page.text  # the policy allows no inline style
    sheet = client.get("/static/public.css")
    assert sheet.status_code == 200 and "text/css" in sheet.headers["content-type"]


def test_a_405_names_every_method_the_path_answers(client: httpx.Client) -> None:
    """Against the OpenAPI spec: for each public path, a method it does not answer gets a
    405 whose Allow is exactly the spec's methods (Starlette named only the first route's)."""
    spec = client.get("/openapi.json").json()
    checked = 0
    for template, operations in spec["paths"].items():
        path = template.replace("{token}", "abc").replace("{link_id}", "l1")
        path = path.replace("{campaign_id}", "1").replace("{slug}", "x")
        methods = {m.upper() for m in operations if m in FETCH}
        unused = sorted({"PUT", "PATCH", "DELETE"} - methods)[0]
        answer = client.request(unused, path)
        assert answer.status_code == 405, path
        assert set(answer.headers["allow"].split(", ")) == methods, path
        checked += 1
    assert checked >= 8
