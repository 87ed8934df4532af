"""Who may use the editor, over real HTTP: login, sessions, CSRF, throttle, roles, headers."""

from __future__ import annotations

import asyncio
import json
import re
import time
from base64 import b64encode
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
from itsdangerous import TimestampSigner
from sqlalchemy import select

from newsletter.briefs.importer import import_briefs
from newsletter.briefs.model import BriefRow
from newsletter.config import Settings
from newsletter.db import Database
from newsletter.editors.model import Editor as EditorRow
from newsletter.web.app import create_app
from newsletter.web.editor.install import session_key
from tests.conftest import SEED_BRIEF
from tests.editor.conftest import PASSWORD, Editor, add_editor, client, csrf_of, log_in
from tests.subscribers.conftest import LiveServer
from tests.test_cli import POSTGRES_WITH_PASSWORD, SMTP_URL

PAGES = (
    "/editor",
    "/editor/briefs?status=ready",
    "/editor/campaigns/new",
    "/editor/campaigns/1/preview",
    "/editor/admin/editors",
    "/editor/logout",
)
API = ("/editor/api/me", "/editor/api/briefs", "/editor/api/openapi.json")
LOGIN_FAILED = "do not match an active account"


def _seed_slug(db: Database) -> str:
    return import_briefs(db, [SEED_BRIEF])[0].brief.slug


def _status(db: Database, slug: str) -> str:
    with db.transaction() as session:
        return session.scalars(select(BriefRow.status).where(BriefRow.slug == slug)).one()


def _cookie(answer_headers: list[str]) -> str:
    """The session's Set-Cookie, its attributes lower-cased (Starlette writes them so)."""
    (cookie,) = [h for h in answer_headers if h.startswith("newsletter_editor=")]
    value, _, attributes = cookie.partition(";")
    return value + ";" + attributes.lower()


def test_logged_out_pages_send_to_the_login_and_the_api_answers_401(site: LiveServer) -> None:
    with client(site) as http:
        for path in PAGES:
            answer = http.get(path)
            assert answer.status_code == 303, path
            expected = (
                "/editor/login"
                if path in ("/editor", "/editor/logout")
                else (f"/editor/login?next={quote(path, safe='/')}")
            )
            assert answer.headers["location"] == expected
        for path in API:
            answer = http.get(path)
            assert answer.status_code == 401, path
            assert answer.json() == {"detail": "log in first: this needs an editor session"}
            assert "www-authenticate" in answer.headers
        assert http.put("/editor/api/briefs/x/status", json={"status": "ready"}).status_code == 401
        posted = http.post("/editor/campaigns/1/actions/cancel", data={"csrf_token": "x"})
        assert posted.status_code == 303 and posted.headers["location"] == "/editor/login"


def test_logging_in_replaces_the_session_and_returns_where_the_editor_was_going(
    db: Database, site: LiveServer
) -> None:
    add_editor(db, "ann@example.org")
    with client(site) as http:
        login = http.get("/editor/login?next=/editor/briefs%3Fstatus%3Dready")
        before = _cookie(login.headers.get_list("set-cookie"))
        assert "httponly" in before and "samesite=lax" in before and "path=/editor" in before
        assert "secure" not in before  # the public URL is http here
        token = csrf_of(login.text)
        answer = http.post(
            "/editor/login",
            data={
                "email": "Ann@Example.org",
                "password": PASSWORD,
                "csrf_token": token,
                "next": "/editor/briefs?status=ready",
            },
        )
        assert answer.status_code == 303
        assert answer.headers["location"] == "/editor/briefs?status=ready"
        after = _cookie(answer.headers.get_list("set-cookie"))
        assert after.split(";")[0] != before.split(";")[0]
        page = http.get("/editor/briefs?status=ready")
        assert page.status_code == 200 and "ann@example.org" in page.text
        assert csrf_of(page.text) != token  # a new CSRF token with the new session
        assert http.get("/editor/login").status_code == 303  # already logged in
    with client(site) as stranger:  # the session from before the login is worth nothing
        stranger.cookies.set("newsletter_editor", before.split(";")[0].split("=", 1)[1])
        assert stranger.get("/editor/briefs").status_code == 303
    with db.transaction() as session:
        ann = session.scalars(select(EditorRow)).one()
        assert ann.last_login_at is not None


@pytest.mark.parametrize(
    "next_url",
    ["//evil.example/x", "https://evil.example/", "/editor/../../x\\y", "javascript:alert(1)", "/"],
)
def test_after_login_the_way_never_leads_off_the_editor(
    db: Database, site: LiveServer, next_url: str
) -> None:
    add_editor(db, "ann@example.org")
    with client(site) as http:
        token = csrf_of(http.get("/editor/login").text)
        answer = http.post(
            "/editor/login",
            data={
                "email": "ann@example.org",
                "password": PASSWORD,
                "csrf_token": token,
                "next": next_url,
            },
        )
        assert answer.status_code == 303 and answer.headers["location"] == "/editor"


def test_every_failed_login_gets_the_same_answer(db: Database, site: LiveServer) -> None:
    add_editor(db, "ann@example.org")
    add_editor(db, "gone@example.org")
    add_editor(db, "root@example.org", role="admin")
    admin = log_in(site, "root@example.org")
    admin.post("/editor/admin/editors/active", {"email": "gone@example.org", "active": "0"})
    answers = []
    for email, password in (
        ("ann@example.org", "wrong password!"),
        ("nobody@example.org", PASSWORD),
        ("gone@example.org", PASSWORD),
        ("not an address", PASSWORD),
    ):
        with client(site) as http:
            token = csrf_of(http.get("/editor/login").text)
            answer = http.post(
                "/editor/login",
                data={"email": email, "password": password, "csrf_token": token},
            )
            assert answer.status_code == 401
            assert LOGIN_FAILED in answer.text
            assert http.get("/editor/briefs").status_code == 303
            page = answer.text.replace(email, "EMAIL").replace(csrf_of(answer.text), "TOKEN")
            answers.append(page)
    assert len(set(answers)) == 1


def _login_from(http: httpx.Client, email: str, password: str, address: str) -> httpx.Response:
    """A login that the proxy in front (127.0.0.1, trusted by default) says comes from
    ``address``."""
    token = csrf_of(http.get("/editor/login").text)
    data = {"email": email, "password": password, "csrf_token": token}
    return http.post("/editor/login", data=data, headers={"X-Forwarded-For": address})


def test_failed_logins_slow_their_address_down_but_never_lock_the_editor_out(
    db: Database, serve: Callable[..., LiveServer]
) -> None:
    server = serve(editor_login_free_failures=2, editor_login_first_delay_seconds=60)
    add_editor(db, "ann@example.org")
    with client(server) as http:
        guesses = [_login_from(http, "ann@example.org", "guess", "203.0.113.9") for _ in range(3)]
        assert [a.status_code for a in guesses] == [401, 401, 429]
        wait = int(guesses[2].headers["retry-after"])
        assert 50 <= wait <= 60 and f"please wait {wait} s" in guesses[2].text
        right = _login_from(http, "ann@example.org", PASSWORD, "203.0.113.9")
        assert right.status_code == 429  # from there even the right one waits its turn
    with client(server) as http:  # ann, from elsewhere: in at once
        assert _login_from(http, "ann@example.org", PASSWORD, "198.51.100.7").status_code == 303
    with client(server) as http:  # and her success there left her count there at nothing
        codes = [_login_from(http, "ann@example.org", "typo", "198.51.100.7") for _ in range(2)]
        assert [a.status_code for a in codes] == [401, 401]


def test_the_throttle_answers_alike_for_accounts_and_unknown_addresses(
    db: Database, serve: Callable[..., LiveServer]
) -> None:
    server = serve(editor_login_free_failures=2, editor_login_first_delay_seconds=60)
    add_editor(db, "ann@example.org")
    pages = {}
    for email in ("ann@example.org", "nobody@example.org"):
        with client(server) as http:
            answers = [_login_from(http, email, "guess", "203.0.113.9") for _ in range(3)]
            assert [a.status_code for a in answers] == [401, 401, 429]
            page = (
                answers[2].text.replace(email, "EMAIL").replace(csrf_of(answers[2].text), "TOKEN")
            )
            pages[email] = re.sub(r"wait \d+ s", "wait N s", page)
    assert pages["ann@example.org"] == pages["nobody@example.org"]


def test_x_forwarded_for_counts_only_from_a_configured_proxy(
    db: Database, serve: Callable[..., LiveServer]
) -> None:
    add_editor(db, "ann@example.org")
    throttle = {"editor_login_free_failures": 2, "editor_login_first_delay_seconds": 60}
    spoofed = serve(**throttle, forwarded_allow_ips="192.0.2.1")
    with client(spoofed) as http:  # 127.0.0.1 is no proxy here: its header is ignored
        codes = [
            _login_from(http, "ann@example.org", "guess", f"203.0.113.{n}").status_code
            for n in range(3)
        ]
        assert codes == [401, 401, 429]
    proxied = serve(**throttle, forwarded_allow_ips="127.0.0.1")
    with client(proxied) as http:  # from the proxy, each named client counts apart
        codes = [
            _login_from(http, "ann@example.org", "guess", f"203.0.113.{n}").status_code
            for n in range(10, 13)
        ]
        assert codes == [401, 401, 401]


def test_the_settings_page_hides_every_password(
    db: Database, serve: Callable[..., LiveServer]
) -> None:
    server = serve(smtp_url=SMTP_URL, database_url=POSTGRES_WITH_PASSWORD)  # shown, not used
    add_editor(db, "root@example.org", role="admin")
    with log_in(server, "root@example.org") as admin:
        page = admin.get("/editor/admin/settings").text
    assert "hunter2" not in page and "pg-pass-7f3a" not in page
    assert "smtp://mailer:***@smtp.example.org:587" in page
    assert "postgresql+psycopg://news:***@db.internal:5432/newsletter" in page


def test_logins_from_one_address_are_rate_limited(
    db: Database, serve: Callable[..., LiveServer]
) -> None:
    server = serve(editor_login_rate_limit=3)
    add_editor(db, "ann@example.org")
    with client(server) as http:
        token = csrf_of(http.get("/editor/login").text)
        data = {"email": "ann@example.org", "password": "nope nope nope", "csrf_token": token}
        codes = [http.post("/editor/login", data=data).status_code for _ in range(4)]
        assert codes == [401, 401, 401, 429]
        limited = http.post("/editor/login", data={**data, "password": PASSWORD})
        assert limited.status_code == 429 and int(limited.headers["retry-after"]) >= 1


def test_changes_need_the_sessions_csrf_token_and_our_origin(
    db: Database, editor: Editor, site: LiveServer
) -> None:
    slug = _seed_slug(db)
    path = f"/editor/briefs/{slug}/status"
    assert editor.http.post(path, data={"status": "ready"}).status_code == 403
    assert editor.http.post(path, data={"status": "ready", "csrf_token": "x" * 43}).status_code == (
        403
    )
    from_elsewhere = editor.post(
        path, {"status": "ready"}, headers={"Origin": "https://evil.example"}
    )
    assert from_elsewhere.status_code == 403
    assert "did not come from this site" in from_elsewhere.text
    assert _status(db, slug) == "draft"
    accepted = editor.post(path, {"status": "ready"}, headers={"Origin": site.url})
    assert accepted.status_code == 303 and _status(db, slug) == "ready"

    api = f"/editor/api/briefs/{slug}/status"
    refused = editor.http.put(api, json={"status": "draft"})
    assert refused.status_code == 403 and "detail" in refused.json()
    assert _status(db, slug) == "ready"
    done = editor.http.put(api, json={"status": "draft"}, headers={"X-CSRF-Token": editor.csrf})
    assert done.status_code == 200 and done.json()["status"] == "draft"


def test_the_login_form_itself_needs_its_token(db: Database, site: LiveServer) -> None:
    add_editor(db, "ann@example.org")
    with client(site) as http:
        answer = http.post("/editor/login", data={"email": "ann@example.org", "password": PASSWORD})
        assert answer.status_code == 403
        assert http.get("/editor/briefs").status_code == 303


def test_admins_manage_editors_and_editors_cannot(db: Database, site: LiveServer) -> None:
    add_editor(db, "root@example.org", role="admin")
    add_editor(db, "ann@example.org")
    ann = log_in(site, "ann@example.org")
    for path in ("/editor/admin/editors", "/editor/admin/settings"):
        assert ann.get(path).status_code == 403
    added = ann.post(
        "/editor/admin/editors",
        {"email": "eve@example.org", "password": PASSWORD, "password_again": PASSWORD},
    )
    assert added.status_code == 403
    assert "Editors" not in ann.get("/editor/campaigns").text.split("</nav>")[0]

    root = log_in(site, "root@example.org")
    settings_page = root.get("/editor/admin/settings")
    assert settings_page.status_code == 200
    assert "NEWSLETTER_SECRET_KEY" in settings_page.text and "(set)" in settings_page.text
    assert "test-secret-key" not in settings_page.text
    mismatch = root.post(
        "/editor/admin/editors",
        {"email": "bo@example.org", "password": PASSWORD, "password_again": PASSWORD + "!"},
    )
    assert mismatch.status_code == 422 and "The two passwords differ." in mismatch.text
    added = root.post(
        "/editor/admin/editors",
        {
            "email": "bo@example.org",
            "role": "editor",
            "password": PASSWORD,
            "password_again": PASSWORD,
        },
    )
    assert "Added editor bo@example.org." in root.follow(added).text
    log_in(site, "bo@example.org").http.close()

    assert ann.get("/editor/briefs").status_code == 200
    root.post("/editor/admin/editors/active", {"email": "ann@example.org", "active": "0"})
    assert ann.get("/editor/briefs").status_code == 303  # her session ended with the account


def test_logging_out_ends_the_session_everywhere(db: Database, site: LiveServer) -> None:
    add_editor(db, "ann@example.org")
    laptop, phone = log_in(site, "ann@example.org"), log_in(site, "ann@example.org")
    stolen = laptop.http.cookies["newsletter_editor"]
    out = laptop.post("/editor/logout")
    assert out.status_code == 303 and out.headers["location"] == "/editor/login"
    assert "You are logged out." in laptop.http.get("/editor/login").text
    assert laptop.get("/editor/briefs").status_code == 303
    assert phone.get("/editor/briefs").status_code == 303
    with client(site) as thief:
        thief.cookies.set("newsletter_editor", stolen)
        assert thief.get("/editor/briefs").status_code == 303


def _forged_session(server: LiveServer, data: dict[str, object]) -> str:
    """A session cookie signed with the server's own key (as SessionMiddleware signs it)."""
    signer = TimestampSigner(session_key(server.settings))
    return signer.sign(b64encode(json.dumps(data).encode())).decode()


def test_idle_and_old_sessions_end(db: Database, site: LiveServer) -> None:
    add_editor(db, "ann@example.org")
    with db.transaction() as session:
        ann = session.scalars(select(EditorRow)).one()
        identity = {"editor": ann.id, "stamp": ann.session_stamp, "csrf": "c" * 43}
    now = time.time()
    fresh = {**identity, "login_at": now - 60, "seen": now - 60}
    idle = {**identity, "login_at": now - 7200, "seen": now - 2 * 3600}
    old = {**identity, "login_at": now - 13 * 3600, "seen": now - 30}
    wrong_stamp = {**fresh, "stamp": "not-the-accounts-stamp"}
    for data, expected in ((fresh, 200), (idle, 303), (old, 303), (wrong_stamp, 303)):
        with client(site) as http:
            http.cookies.set("newsletter_editor", _forged_session(site, data))
            assert http.get("/editor/briefs").status_code == expected, data


def test_a_https_public_url_makes_the_cookie_secure(db: Database, tmp_path: Path) -> None:
    settings = Settings(
        public_url="https://news.example.org",
        editor_cookie_same_site="strict",
        outbox=tmp_path / "outbox",
    )
    app = create_app(settings, database=db)

    async def login_page() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="https://news.example.org") as c:
            return await c.get("/editor/login")

    with ThreadPoolExecutor(1) as pool:  # Playwright may hold this thread's event loop
        answer = pool.submit(asyncio.run, login_page()).result()
    cookie = _cookie(answer.headers.get_list("set-cookie"))
    assert "secure" in cookie and "samesite=strict" in cookie and "httponly" in cookie


def test_editor_answers_carry_the_security_headers(editor: Editor, site: LiveServer) -> None:
    with client(site) as stranger:
        answers = [
            editor.get("/editor/campaigns"),
            stranger.get("/editor/login"),
            stranger.get("/editor/api/briefs"),
        ]
    for answer in answers:
        headers = answer.headers
        assert "frame-ancestors 'none'" in headers["content-security-policy"]
        assert "script-src 'self'" in headers["content-security-policy"]
        assert "unsafe-inline" not in headers["content-security-policy"]
        assert headers["x-frame-options"] == "DENY"
        assert headers["cache-control"] == "no-store"
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["referrer-policy"] == "same-origin"
    public = editor.http.get("/subscribe")
    assert "newsletter_editor" not in public.headers.get("set-cookie", "")


def test_error_pages_under_the_editor_keep_its_layout_and_policy(
    db: Database, editor: Editor
) -> None:
    html = {"Accept": "text/html"}
    missing = editor.get("/editor/briefs/no-such-brief", headers=html)
    assert missing.status_code == 404 and "<h1>Not found</h1>" in missing.text
    assert "no brief with slug &#39;no-such-brief&#39;" in missing.text
    forbidden = editor.get("/editor/admin/settings", headers=html)
    assert forbidden.status_code == 403 and "Only an admin may open this page." in forbidden.text
    for page in (missing, forbidden):
        assert '<link rel="stylesheet" href="/static/editor.css">' in page.text
        assert "<style" not in page.text  # the editor's policy allows no inline style
        assert "ann@example.org" in page.text  # the editor's own navigation
    as_json = editor.get("/editor/api/briefs/no-such-brief")
    assert as_json.status_code == 404 and as_json.json()["detail"].startswith("no brief")
    public = editor.http.get("/confirm/broken-token", headers=html)
    assert "/static/public.css" in public.text  # the public pages keep their own layout
