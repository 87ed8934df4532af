"""The public API over real HTTP (uvicorn on loopback): the JSON flows and every bad input."""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Callable, Iterator

import httpx
import pytest
from itsdangerous import TimestampSigner
from sqlalchemy import func, select

from newsletter.db import Database
from newsletter.tokens import Purpose, TokenSigner
from subscribers.model import ConsentRecord, QueuedMail, Subscriber
from subscribers.preferences import unsubscribe
from subscribers.ratelimit import ClientRateLimiter
from subscribers.signup import Origin
from subscribers.suppression import suppress
from tests.subscribers.conftest import LiveServer, add_subscriber


@pytest.fixture
def http(live_server: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live_server.url, timeout=10) as client:
        yield client


def _rows(db: Database) -> tuple[int, int, int]:
    with db.transaction() as session:
        return tuple(  # type: ignore[return-value]
            session.scalar(select(func.count()).select_from(model)) or 0
            for model in (Subscriber, ConsentRecord, QueuedMail)
        )


def _subscriber(db: Database, key: str) -> Subscriber:
    with db.transaction() as session:
        return session.scalars(select(Subscriber).where(Subscriber.email_key == key)).one()


def test_json_signup_confirm_preferences_unsubscribe(
    http: httpx.Client, live_server: LiveServer
) -> None:
    answer = http.post(
        "/subscribe",
        json={"email": "Ana@Example.com", "name": "Ana", "topics": ["Europe"]},
        headers={"User-Agent": "newsroom-cms/2.1"},
    )
    assert answer.status_code == 202
    assert answer.json()["status"] == "accepted"
    assert answer.headers["cache-control"] == "no-store"
    assert live_server.mails() == []  # queued, not sent inside the request
    assert live_server.drain().sent == 1
    link = live_server.confirm_link("Ana@example.com")
    assert link.startswith(live_server.url + "/confirm/")

    asked = http.get(link.removeprefix(live_server.url))
    assert asked.status_code == 200 and "<button" in asked.text and "Ana@example.com" in asked.text
    assert _subscriber(live_server.database, "ana@example.com").status == "pending"  # GET never
    assert asked.headers["x-frame-options"] == "DENY"
    page = http.post(link.removeprefix(live_server.url))
    assert page.status_code == 200 and "You are subscribed" in page.text
    assert page.headers["x-frame-options"] == "DENY"
    assert page.headers["referrer-policy"] == "no-referrer"
    ana = _subscriber(live_server.database, "ana@example.com")
    assert (ana.status, ana.topics) == ("active", ["europe"])
    with live_server.database.transaction() as session:
        consent = session.scalars(select(ConsentRecord).where(ConsentRecord.kind == "signup")).one()
        assert (consent.ip, consent.user_agent, consent.source) == (
            "127.0.0.1",
            "newsroom-cms/2.1",
            "web",
        )
    preferences = re.search(r'href="[^"]*(/preferences/[^"]+)"', page.text)
    assert preferences is not None
    path = preferences.group(1)

    saved = http.post(
        path, json={"name": "Ana L.", "topics": ["climate", "science"], "narratives": "facts-only"}
    )
    assert saved.status_code == 200
    assert saved.json() == {
        "status": "active",
        "name": "Ana L.",
        "topics": ["climate", "science"],
        "narratives": "facts-only",
        "time_zone": None,
    }
    refused = http.post(path, json={"narratives": "everything"})
    assert refused.status_code == 422
    assert refused.json()["detail"][0]["loc"] == ["body", "narratives"]

    signer = TokenSigner(live_server.settings.signing_key())
    unsubscribe = f"/unsubscribe/{signer.sign(Purpose.UNSUBSCRIBE, ana.uid)}"
    shown = http.get(unsubscribe)
    assert shown.status_code == 200 and "<button" in shown.text
    assert _subscriber(live_server.database, "ana@example.com").status == "active"  # GET never
    done = http.post(unsubscribe, data={"List-Unsubscribe": "One-Click"})
    assert done.status_code == 200 and "You are unsubscribed" in done.text
    assert _subscriber(live_server.database, "ana@example.com").status == "unsubscribed"
    again = http.post(unsubscribe)  # no body at all: still fine, still unsubscribed
    assert again.status_code == 200
    assert http.post(unsubscribe, json={}).json() == {"status": "unsubscribed"}


def test_the_answer_is_the_same_whoever_signs_up(
    http: httpx.Client, live_server: LiveServer
) -> None:
    db = live_server.database
    with db.transaction() as session:
        add_subscriber(session, "active@example.com", status="active")
        add_subscriber(session, "gone@example.com", status="unsubscribed")
        suppress(session, "erased@example.com", "erased")
    answers = {
        email: http.post("/subscribe", json={"email": email})
        for email in (
            "new@example.com",
            "active@example.com",
            "gone@example.com",
            "erased@example.com",
        )
    }
    assert {a.status_code for a in answers.values()} == {202}
    assert len({a.content for a in answers.values()}) == 1
    form_pages = {
        email: http.post("/subscribe", data={"email": email}).text
        for email in ("new2@example.com", "active@example.com")
    }
    assert len(set(form_pages.values())) == 1
    live_server.drain()
    recipients = sorted(str(m["To"]) for m in live_server.mails())
    # the active subscriber gets no second mail; the unsubscribed one must confirm again
    assert recipients == ["gone@example.com", "new2@example.com", "new@example.com"]
    assert _subscriber(db, "gone@example.com").status == "pending"


BAD = [
    ({"email": "not-an-address"}, "email", "not a valid email address"),
    ({"email": "a@example.com", "name": "x" * 101}, "name", "longer than 100"),
    ({"email": "a@example.com", "name": "Ana\r\nBcc: x@example.com"}, "name", "line break"),
    ({"email": "a@example.com\nb@example.com"}, "email", "line break"),
    # no provider here speaks SMTPUTF8: queued, it would fail at every send
    ({"email": "zoë@example.com"}, "email", "non-ASCII characters before the @"),
    ({"email": "ann@bücher.example"}, None, None),  # an IDN domain is fine (punycode)
    (
        {"email": "a@example.com", "topics": ["europe", "gossip"]},
        "topics",
        "unknown topic(s) gossip",
    ),
    ({"email": "a@example.com", "topics": "europe"}, None, None),  # a single topic is fine
    ({"email": "a@example.com", "topics": [1]}, "topics", "list of topic names"),
    ({"email": "a@example.com", "nmae": "typo"}, "nmae", "not a field"),
    ({"email": "a@example.com", "source": "footer\n"}, "source", "line break"),
    ({"email": 42}, "email", "must be text"),
]


@pytest.mark.parametrize(("body", "field", "why"), BAD)
def test_bad_json_is_refused_with_the_field_and_nothing_is_written(
    http: httpx.Client,
    live_server: LiveServer,
    body: dict[str, object],
    field: str | None,
    why: str | None,
) -> None:
    answer = http.post("/subscribe", json=body)
    if field is None:
        assert answer.status_code == 202
        return
    assert answer.status_code == 422, answer.text
    detail = answer.json()["detail"]
    assert any(d["loc"] == ["body", field] and why in d["msg"] for d in detail), detail
    assert _rows(live_server.database) == (0, 0, 0)


def test_malformed_oversized_and_foreign_bodies(
    http: httpx.Client, live_server: LiveServer
) -> None:
    malformed = http.post(
        "/subscribe", content=b'{"email": ', headers={"Content-Type": "application/json"}
    )
    assert malformed.status_code == 422
    assert malformed.json()["detail"][0]["loc"] == ["body"]
    assert "not valid JSON" in malformed.json()["detail"][0]["msg"]
    not_object = http.post("/subscribe", json=["a@example.com"])
    assert not_object.status_code == 422 and "JSON object" in not_object.text
    huge = http.post("/subscribe", json={"email": "a@example.com", "name": "x" * 20_000})
    assert huge.status_code == 413 and "larger than 16384 bytes" in huge.json()["detail"]
    xml = http.post("/subscribe", content=b"<a/>", headers={"Content-Type": "application/xml"})
    assert xml.status_code == 422 and "content type 'application/xml'" in xml.text
    upload = http.post("/subscribe", files={"email": ("a.txt", b"a@example.com")})
    assert upload.status_code in (400, 422)
    assert _rows(live_server.database) == (0, 0, 0)


def _preferences_token(server: LiveServer, email: str) -> str:
    """The preferences token of a new active subscriber."""
    with server.database.transaction() as session:
        uid = add_subscriber(session, email, status="active").uid
    return TokenSigner(server.settings.signing_key()).sign(Purpose.PREFERENCES, uid)


DEEP = 5_000  # past the JSON parser's own recursion limit (a RecursionError, once a 500)


@pytest.mark.parametrize(
    "body",
    [
        b"[" * DEEP + b"]" * DEEP,
        b'{"email": "a@example.com", "name": ' + b"[" * DEEP + b"]" * DEEP + b"}",
        b'{"topics": ' + b"[" * 40 + b"]" * 40 + b"}",  # parsed, but deeper than allowed
    ],
    ids=["top-level", "in-a-field", "just-too-deep"],
)
def test_deeply_nested_json_is_refused_on_signup_and_preferences(
    http: httpx.Client, live_server: LiveServer, body: bytes
) -> None:
    token = _preferences_token(live_server, "bo@example.com")
    for path in ("/subscribe", f"/preferences/{token}"):
        answer = http.post(path, content=body, headers={"Content-Type": "application/json"})
        assert answer.status_code == 422, (path, answer.text)
        detail = answer.json()["detail"][0]
        assert detail["loc"] == ["body"]
        assert "nests deeper than 32 levels (line 1, column " in detail["msg"]
    assert _rows(live_server.database) == (1, 0, 0)


@pytest.mark.parametrize("kind", ["json", "form"])
def test_a_nul_character_is_refused_in_every_public_field(
    http: httpx.Client, live_server: LiveServer, kind: str
) -> None:
    """PostgreSQL cannot store NUL, SQLite can: both refuse it with the field named."""
    token = _preferences_token(live_server, "bo@example.com")
    cases = [
        ("/subscribe", {"email": "a\x00@example.com"}, "email"),
        ("/subscribe", {"email": "a@example.com", "name": "A\x00"}, "name"),
        ("/subscribe", {"email": "a@example.com", "topics": ["europe\x00"]}, "topics"),
        ("/subscribe", {"email": "a@example.com", "source": "web\x00"}, "source"),
        (f"/preferences/{token}", {"name": "B\x00"}, "name"),
        (f"/preferences/{token}", {"narratives": "all\x00"}, "narratives"),
    ]
    for path, fields, field in cases:
        sent = {"json": fields} if kind == "json" else {"data": fields}
        answer = http.post(path, **sent)  # type: ignore[arg-type]
        assert answer.status_code == 422, (path, fields, answer.text)
        if kind == "json":
            assert any(d["loc"] == ["body", field] for d in answer.json()["detail"]), answer.text
        else:  # the form shown again, the problem next to its field
            assert f'id="{field}-error"' in answer.text, answer.text
    assert _rows(live_server.database) == (1, 0, 0)
    assert _subscriber(live_server.database, "bo@example.com").name is None


def test_form_errors_are_shown_next_to_their_fields(
    http: httpx.Client, live_server: LiveServer
) -> None:
    page = http.post(
        "/subscribe",
        data={"email": "nope", "name": "Ana", "topics": ["europe", "gossip"]},
        headers={"Accept": "text/html"},
    )
    assert page.status_code == 422
    assert re.search(
        r'id="email"[^>]*aria-invalid="true" aria-describedby="email-error"', page.text, re.S
    )
    assert 'id="email-error"' in page.text and "not a valid email address" in page.text
    assert 'id="topics-error"' in page.text and "unknown topic(s) gossip" in page.text
    assert 'value="Ana"' in page.text  # what was typed is kept
    assert _rows(live_server.database) == (0, 0, 0)


def test_the_honeypot_answers_as_usual_and_writes_nothing(
    http: httpx.Client, live_server: LiveServer
) -> None:
    answer = http.post("/subscribe", json={"email": "bot@example.com", "website": "http://spam"})
    assert answer.status_code == 202
    assert _rows(live_server.database) == (0, 0, 0)


def test_signups_are_rate_limited_per_client(serve: Callable[..., LiveServer]) -> None:
    server = serve(signup_rate_limit=3, signup_rate_period=60)
    with httpx.Client(base_url=server.url) as client:
        answers = [client.post("/subscribe", json={"email": f"r{i}@example.com"}) for i in range(4)]
        assert [a.status_code for a in answers] == [202, 202, 202, 429]
        assert 1 <= int(answers[3].headers["retry-after"]) <= 20
        assert "Too many signups" in answers[3].json()["detail"]
        page = client.post(
            "/subscribe", data={"email": "r9@example.com"}, headers={"Accept": "text/html"}
        )
        assert page.status_code == 429 and "Please wait a moment" in page.text
        assert client.get("/subscribe").status_code == 200  # pages are not limited
    assert _rows(server.database)[0] == 3


def test_signups_count_under_x_forwarded_for_only_from_a_configured_proxy(
    serve: Callable[..., LiveServer],
) -> None:
    def codes(server: LiveServer) -> list[int]:
        with httpx.Client(base_url=server.url) as client:
            return [
                client.post(
                    "/subscribe",
                    json={"email": f"x{n}-{server.url[-5:]}@example.com"},
                    headers={"X-Forwarded-For": f"203.0.113.{n}"},
                ).status_code
                for n in range(3)
            ]

    assert codes(serve(signup_rate_limit=2, forwarded_allow_ips="192.0.2.1")) == [202, 202, 429]
    assert codes(serve(signup_rate_limit=2, forwarded_allow_ips="127.0.0.1")) == [202, 202, 202]


def test_the_limiter_refills_and_keeps_clients_apart() -> None:
    now = [0.0]
    limiter = ClientRateLimiter(2, 60, clock=lambda: now[0])
    assert limiter.hit("a") is None and limiter.hit("a") is None
    assert limiter.hit("a") == pytest.approx(30)
    assert limiter.hit("b") is None
    now[0] = 31.0
    assert limiter.hit("a") is None
    assert ClientRateLimiter(0, 60).hit("a") is None  # 0 disables it
    assert ClientRateLimiter.retry_after_header(0.2) == "1"


def test_confirmation_links_expire_and_tampered_ones_are_refused(
    http: httpx.Client, live_server: LiveServer
) -> None:
    http.post("/subscribe", json={"email": "ana@example.com"})
    uid = _subscriber(live_server.database, "ana@example.com").uid

    class Yesterday(TimestampSigner):
        def get_timestamp(self) -> int:
            return int(time.time()) - 73 * 3600

    secret = live_server.settings.signing_key()
    old = Yesterday(secret, salt="newsletter.confirm", digest_method=hashlib.sha256).sign(uid)
    expired = http.get(f"/confirm/{old.decode()}")
    assert expired.status_code == 400
    assert "This link has expired" in expired.text
    assert 'action="/subscribe"' in expired.text  # a new link is one click away
    good = TokenSigner(secret).sign(Purpose.CONFIRM, uid)
    tampered = http.get(f"/confirm/{good[:-2]}xx")
    assert tampered.status_code == 400 and "This link does not work" in tampered.text
    wrong_purpose = TokenSigner(secret).sign(Purpose.UNSUBSCRIBE, uid)
    assert http.get(f"/confirm/{wrong_purpose}").status_code == 400
    assert http.post(f"/confirm/{good[:-2]}xx").status_code == 400
    assert http.post(f"/confirm/{old.decode()}").status_code == 400
    assert _subscriber(live_server.database, "ana@example.com").status == "pending"
    assert http.get(f"/confirm/{good}").status_code == 200
    assert _subscriber(live_server.database, "ana@example.com").status == "pending"
    confirmed = http.post(f"/confirm/{good}", json={})
    assert confirmed.json() == {"status": "active", "already": False}
    again = http.post(f"/confirm/{good}")
    assert again.status_code == 200 and "already subscribed" in again.text
    assert "already subscribed" in http.get(f"/confirm/{good}").text


def test_a_mail_scanner_following_the_confirmation_link_confirms_nothing(
    http: httpx.Client, live_server: LiveServer
) -> None:
    """Scanners (and link previews) GET and HEAD every link of a mail, whoever typed the
    address into the form: only the reader's POST from the page confirms."""
    http.post("/subscribe", json={"email": "victim@example.com"})
    live_server.drain()
    link = live_server.confirm_link("victim@example.com").removeprefix(live_server.url)
    for _ in range(3):
        assert http.get(link).status_code == 200
        assert http.head(link).status_code in (200, 405)
    assert _subscriber(live_server.database, "victim@example.com").status == "pending"
    with live_server.database.transaction() as session:
        uid = _subscriber(live_server.database, "victim@example.com").uid
        unsubscribe(session, uid, Origin(ip=None, user_agent=None, source=None))
    closed = http.get(link)  # the reader left before confirming: the page says so
    assert closed.status_code == 410 and "Confirm my subscription" not in closed.text
    assert http.post(link).status_code == 410


def test_leaving_from_the_preferences_api(http: httpx.Client, live_server: LiveServer) -> None:
    with live_server.database.transaction() as session:
        uid = add_subscriber(session, "bo@example.com", status="active", name="Bo").uid
    token = TokenSigner(live_server.settings.signing_key()).sign(Purpose.PREFERENCES, uid)
    answer = http.post(f"/preferences/{token}", json={"action": "unsubscribe"})
    assert answer.status_code == 200
    assert answer.json() == {
        "status": "unsubscribed",
        "name": "Bo",
        "topics": [],
        "narratives": "all",
        "time_zone": None,
    }
    assert _subscriber(live_server.database, "bo@example.com").status == "unsubscribed"
    page = http.get(f"/preferences/{token}")
    assert "You are unsubscribed" in page.text and "Subscribe again" in page.text


def test_a_form_post_can_land_on_the_newsrooms_own_thank_you_page(
    serve: Callable[..., LiveServer],
) -> None:
    server = serve(thank_you_url="https://news.example.org/thanks")
    with httpx.Client(base_url=server.url) as client:
        answer = client.post("/subscribe", data={"email": "cy@example.com", "source": "footer"})
        assert answer.status_code == 303
        assert answer.headers["location"] == "https://news.example.org/thanks"
        assert client.post("/subscribe", json={"email": "dy@example.com"}).status_code == 202
    assert _subscriber(server.database, "cy@example.com").source == "footer"


def test_time_zones_from_signup_and_preferences(
    http: httpx.Client, live_server: LiveServer
) -> None:
    """The signup form's hidden zone is kept (an unknown one from a browser means the
    default, it is not the person's mistake); an API client's unknown zone is a 422 naming
    the field; the preferences page shows, changes and refuses a zone."""
    db = live_server.database
    form = http.post("/subscribe", data={"email": "ana@example.com", "time_zone": "Asia/Kathmandu"})
    assert form.status_code in (200, 303), form.text[:300]
    assert _subscriber(db, "ana@example.com").time_zone == "Asia/Kathmandu"
    odd = http.post("/subscribe", data={"email": "bo@example.com", "time_zone": "Mars/Base"})
    assert odd.status_code in (200, 303)
    assert _subscriber(db, "bo@example.com").time_zone is None
    refused = http.post("/subscribe", json={"email": "cy@example.com", "time_zone": "Mars/Base"})
    assert refused.status_code == 422
    assert refused.json()["detail"][0]["loc"] == ["body", "time_zone"]
    assert _rows(db)[0] == 2  # nothing stored for the refused one

    ana = _subscriber(db, "ana@example.com")
    signer = TokenSigner(live_server.settings.signing_key())
    path = f"/preferences/{signer.sign(Purpose.PREFERENCES, ana.uid)}"
    page = http.get(path)
    assert 'value="Asia/Kathmandu"' in page.text and '<option value="Europe/Berlin">' in page.text
    bad = http.post(path, data={"action": "save", "time_zone": "Nowhere/Else"})
    assert bad.status_code == 422 and "unknown time zone" in bad.text
    assert _subscriber(db, "ana@example.com").time_zone == "Asia/Kathmandu"
    saved = http.post(path, json={"time_zone": "America/New_York"})
    assert saved.status_code == 200 and saved.json()["time_zone"] == "America/New_York"
    assert _subscriber(db, "ana@example.com").time_zone == "America/New_York"
