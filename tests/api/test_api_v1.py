"""``/api/v1`` over real HTTP (uvicorn on loopback), on SQLite and PostgreSQL: keys and
scopes, refusals that say what is missing, rate limits, briefs in the JSON format with the
importer's located errors, people by double opt-in or vouched-for, erasure, campaigns and
reports in the editor API's shapes; the API takes no cookie and the editor API no key."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from sqlalchemy import event, func, select

from campaigns.welcome_queue import queue_due_steps
from campaigns.welcome_steps import StepText, add_step
from newsletter.apikeys.keys import SCOPES, create_key, revoke_key
from newsletter.config import get_settings
from newsletter.db import Database
from newsletter.webhooks.model import WebhookMessage
from subscribers.directory import consent_history, find_by_email
from subscribers.model import ConsentRecord, Subscriber
from subscribers.signup import Origin, confirm
from subscribers.suppression import suppress
from tests.campaigns.helpers import (
    add_subscribers,
    import_examples,
    new_campaign,
    send_issue,
    welcomed,
)
from tests.conftest import ROOT
from tests.editor.conftest import add_editor, client, log_in
from tests.subscribers.conftest import LiveServer, add_subscriber
from tests.webhooks.conftest import register

BRIEF_FILE = ROOT / "examples" / "briefs" / "004_bank-of-england-rate-decision.json"
BRIEF = json.loads(BRIEF_FILE.read_text(encoding="utf-8"))
ROUTES = {  # every operation, the scope it needs, and a body that would be acceptable
    ("GET", "/api/v1/briefs"): ("briefs:read", None),
    ("GET", f"/api/v1/briefs/{BRIEF['slug']}"): ("briefs:read", None),
    ("POST", "/api/v1/briefs"): ("briefs:write", BRIEF),
    ("PUT", f"/api/v1/briefs/{BRIEF['slug']}"): ("briefs:write", BRIEF),
    ("POST", "/api/v1/subscribers"): (
        "subscribers:write",
        {"email": "a@example.org", "source": "cms"},
    ),
    ("POST", "/api/v1/subscribers/bulk"): (
        "subscribers:write",
        {"subscribers": [{"email": "a@example.org", "source": "cms"}]},
    ),
    ("POST", "/api/v1/subscribers/erase"): ("subscribers:erase", {"email": "a@example.org"}),
    ("GET", "/api/v1/campaigns"): ("campaigns:read", None),
    ("GET", "/api/v1/campaigns/1/report"): ("reports:read", None),
}


def make_key(db: Database, *scopes: str, name: str = "cms", rate_limit: int = 0) -> str:
    with db.transaction() as session:
        return create_key(session, name, scopes, created_by="t", rate_limit=rate_limit).secret


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture
def site(serve: Callable[..., LiveServer]) -> LiveServer:
    return serve(topics=["economy", "tech", "uk", "europe"])


@pytest.fixture
def http(site: LiveServer) -> httpx.Client:
    with client(site) as http:
        yield http  # type: ignore[misc]


def test_without_a_good_key_every_route_says_what_is_missing(
    db: Database, site: LiveServer, http: httpx.Client
) -> None:
    key = make_key(db, *SCOPES)
    with db.transaction() as session:
        revoke_key(session, "cms")
    cases = {
        None: "no API key: send it as the header 'Authorization: Bearer <key>'",
        "Basic YTpi": "no API key: send it as the header 'Authorization: Bearer <key>'",
        "Bearer nope": "this is not an API key (they look like nlk_0123abcd_…)",
        "Bearer " + key[:-2] + "xx": "unknown API key",
        "Bearer " + key: "this API key was revoked on ",
    }
    for (method, path), (_, body) in ROUTES.items():
        for header, detail in cases.items():
            headers = {"Authorization": header} if header else {}
            answer = http.request(method, path, json=body, headers=headers)
            assert answer.status_code == 401, (method, path, header)
            assert answer.json()["detail"].startswith(detail)
            assert answer.headers["WWW-Authenticate"] == 'Bearer realm="api"'


def test_a_key_acts_only_within_its_scopes(db: Database, http: httpx.Client) -> None:
    for index, ((method, path), (scope, body)) in enumerate(ROUTES.items()):
        others = [s for s in SCOPES if s != scope]
        key = make_key(db, *others, name=f"k{index}")
        answer = http.request(method, path, json=body, headers=bearer(key))
        assert answer.status_code == 403, (method, path)
        assert answer.json() == {
            "detail": f"the API key 'k{index}' lacks the scope '{scope}'",
            "missing_scope": scope,
        }
        allowed = make_key(db, scope, name=f"ok{index}")
        answer = http.request(method, path, json=body, headers=bearer(allowed))
        assert answer.status_code not in (401, 403), (method, path, answer.text)
    with db.transaction() as session:
        assert session.scalar(select(Subscriber.id)) is not None  # the allowed add happened


def test_cookies_do_not_open_the_api_and_keys_do_not_open_the_editor_api(
    db: Database, site: LiveServer
) -> None:
    add_editor(db, "root@example.org", role="admin")
    key = make_key(db, *SCOPES)
    with log_in(site, "root@example.org") as admin:
        cookie = admin.http.cookies["newsletter_editor"]
        assert admin.get("/editor/api/briefs").status_code == 200
        answer = admin.http.get("/api/v1/briefs", headers={"Cookie": f"newsletter_editor={cookie}"})
        assert answer.status_code == 401
        answer = admin.http.post(
            "/api/v1/subscribers/erase",
            json={"email": "a@example.org"},
            headers={"Cookie": f"newsletter_editor={cookie}", "X-CSRF-Token": admin.csrf},
        )
        assert answer.status_code == 401
    with client(site) as http:
        assert http.get("/editor/api/briefs", headers=bearer(key)).status_code == 401
        assert http.get("/editor/api/openapi.json", headers=bearer(key)).status_code == 401


def test_a_key_over_its_limit_waits_as_told(db: Database, http: httpx.Client) -> None:
    key = make_key(db, "briefs:read", rate_limit=3)
    other = make_key(db, "briefs:read", name="crm", rate_limit=3)
    assert [http.get("/api/v1/briefs", headers=bearer(key)).status_code for _ in range(3)] == [
        200
    ] * 3
    answer = http.get("/api/v1/briefs", headers=bearer(key))
    assert answer.status_code == 429
    assert 1 <= int(answer.headers["Retry-After"]) <= 20
    assert "more than its 3 requests a minute" in answer.json()["detail"]
    assert http.get("/api/v1/briefs", headers=bearer(other)).status_code == 200  # its own bucket


def test_briefs_round_trip_in_the_json_format(db: Database, http: httpx.Client) -> None:
    key = bearer(make_key(db, "briefs:read", "briefs:write"))
    raw = BRIEF_FILE.read_bytes()
    answer = http.post("/api/v1/briefs", content=raw, headers=key)
    assert answer.status_code == 201, answer.text
    assert answer.json()["slug"] == BRIEF["slug"] and answer.json()["status"] == "draft"
    again = http.post("/api/v1/briefs", content=raw, headers=key)
    assert again.status_code == 409 and "PUT it to update it" in again.json()["detail"]
    stored = http.get(f"/api/v1/briefs/{BRIEF['slug']}", headers=key).json()
    assert stored["title"] == BRIEF["title"] and stored["facts"] == BRIEF["facts"]

    changed = {**stored, "title": "A new title", "status": "ready"}
    answer = http.put(f"/api/v1/briefs/{BRIEF['slug']}", json=changed, headers=key)
    assert answer.status_code == 200 and answer.json()["status"] == "ready"
    fresh = {**changed, "slug": "another-brief"}
    answer = http.put("/api/v1/briefs/another-brief", json=fresh, headers=key)
    assert answer.status_code == 201
    listed = http.get("/api/v1/briefs", params={"status": "ready"}, headers=key).json()
    assert sorted(b["slug"] for b in listed) == sorted([BRIEF["slug"], "another-brief"])
    assert http.get("/api/v1/briefs/nope", headers=key).status_code == 404


def test_a_bad_brief_gets_the_importers_located_errors(db: Database, http: httpx.Client) -> None:
    key = bearer(make_key(db, "briefs:write"))
    facts = [{**BRIEF["facts"][0], "text": ""}, *BRIEF["facts"][1:]]
    body = json.dumps({**BRIEF, "updated": "2026-02-30", "facts": facts}, indent=2)
    answer = http.post("/api/v1/briefs", content=body, headers=key)
    assert answer.status_code == 422
    detail = answer.json()["detail"]
    lines = {n: line for n, line in enumerate(body.splitlines(), start=1)}
    messages = [d["msg"] for d in detail]
    updated_line = next(n for n, line in lines.items() if '"updated"' in line)
    assert any(m.startswith(f"line {updated_line}: ") and "updated" in m for m in messages)
    assert any("fact 1 text" in m for m in messages), messages
    assert all(d["loc"] == ["body"] for d in detail)

    answer = http.post("/api/v1/briefs", content=b'{"slug": "x",', headers=key)
    assert answer.status_code == 422 and answer.json()["detail"][0]["msg"].startswith("line 1")
    answer = http.put("/api/v1/briefs/other-slug", content=BRIEF_FILE.read_bytes(), headers=key)
    assert answer.status_code == 422
    assert answer.json()["detail"][0]["loc"] == ["body", "slug"]


def test_people_get_the_double_opt_in_unless_the_key_may_vouch(
    db: Database, site: LiveServer, http: httpx.Client
) -> None:
    key = bearer(make_key(db, "subscribers:write"))
    person = {"email": "Ana@Example.org", "name": "Ana", "topics": ["tech"], "source": "cms:footer"}
    answer = http.post("/api/v1/subscribers", json=person, headers=key)
    assert answer.json() == {"email": "Ana@example.org", "result": "queued"}
    again = http.post("/api/v1/subscribers", json=person, headers=key)
    assert again.json()["result"] == "throttled"
    assert site.drain().sent == 1
    assert http.post(site.confirm_link("Ana@example.org")).status_code == 200  # a GET asks
    with db.transaction() as session:
        ana = find_by_email(session, "ana@example.org")
        assert ana.status == "active" and ana.source == "cms:footer"
        signup = consent_history(session, ana)[0]
        assert signup.kind == "signup" and signup.source == "cms:footer"
        assert signup.form["system"] == "cms"

    vouched = {**person, "email": "bo@example.org", "confirmed": True}
    answer = http.post("/api/v1/subscribers", json=vouched, headers=key)
    assert answer.status_code == 403
    assert answer.json()["missing_scope"] == "subscribers:import-confirmed"
    trusted = bearer(make_key(db, "subscribers:write", "subscribers:import-confirmed", name="crm"))
    answer = http.post("/api/v1/subscribers", json=vouched, headers=trusted)
    assert answer.json() == {"email": "bo@example.org", "result": "added"}
    assert site.drain().sent == 0  # no confirmation mail for a vouched-for opt-in
    with db.transaction() as session:
        bo = find_by_email(session, "bo@example.org")
        assert bo.status == "active"
        (record,) = consent_history(session, bo)
        assert record.kind == "add" and record.form["system"] == "crm"


def test_a_confirmed_bulk_add_is_one_batch_under_the_single_adds_rules(
    db: Database, site: LiveServer, http: httpx.Client
) -> None:
    with db.transaction() as session:
        add_subscriber(session, "Known@example.org", status="pending")
        suppress(session, "gone@example.org", "bounced")
    register(db, "http://127.0.0.1:9/hook")  # every event: a confirmed add reports none
    key = bearer(make_key(db, "subscribers:write", "subscribers:import-confirmed", name="crm"))
    fresh = [
        {"email": f"r{i}@example.org", "source": "crm:shop", "name": f"R{i}", "topics": ["tech"]}
        for i in range(40)
    ]
    fresh[0] |= {"ip": "203.0.113.9", "user_agent": "Mozilla/5.0"}
    others = [{"email": e, "source": "crm"} for e in ("known@example.org", "gone@example.org")]
    again = {"email": "R0@Example.org", "source": "crm"}  # the same address as fresh[0]
    body = {"subscribers": [*fresh, *others, again], "confirmed": True}
    statements: list[str] = []

    def seen(*args: object) -> None:
        statements.append(str(args[2]))

    event.listen(db.engine, "before_cursor_execute", seen)
    try:
        answer = http.post("/api/v1/subscribers/bulk", json=body, headers=key)
    finally:
        event.remove(db.engine, "before_cursor_execute", seen)
    assert answer.status_code == 200, answer.text
    assert [r["result"] for r in answer.json()["results"]] == [
        *["added"] * 40,
        "exists",
        "suppressed",
        "exists",
    ]
    assert answer.json()["counts"] == {"added": 40, "exists": 2, "suppressed": 1}
    assert len(statements) < 20, statements  # a batch, not a few statements a person
    assert site.drain().sent == 0
    with db.transaction() as session:
        r0 = find_by_email(session, "r0@example.org")
        assert (r0.status, r0.name, r0.topics, r0.source) == ("active", "R0", ["tech"], "crm:shop")
        assert r0.confirmed_at is not None and r0.confirmation_sent_at is None
        (record,) = consent_history(session, r0)
        assert (record.kind, record.source, record.ip, record.user_agent) == (
            "add",
            "crm:shop",
            "203.0.113.9",
            "Mozilla/5.0",
        )
        assert record.form == {
            "email": "r0@example.org",
            "name": "R0",
            "topics": ["tech"],
            "system": "crm",
            "source": "crm:shop",
        }
        assert find_by_email(session, "known@example.org").status == "pending"
        assert session.scalar(select(func.count()).select_from(Subscriber)) == 41
        assert session.scalar(select(func.count()).select_from(ConsentRecord)) == 40
        assert session.scalars(select(WebhookMessage)).all() == []


def test_people_may_bring_their_time_zone_checked_as_the_csv_import_checks_it(
    db: Database, http: httpx.Client
) -> None:
    key = bearer(make_key(db, "subscribers:write", "subscribers:import-confirmed"))
    bad = {"email": "ann@example.org", "source": "cms", "time_zone": "Mars/Olympus"}
    answer = http.post("/api/v1/subscribers", json=bad, headers=key)
    assert answer.status_code == 422
    ((problem,),) = [answer.json()["detail"]]
    assert problem["loc"] == ["body", "time_zone"]
    assert "unknown time zone 'Mars/Olympus'" in problem["msg"]
    people = [
        {"email": "bo@example.org", "source": "cms", "time_zone": " Europe/Berlin "},
        {"email": "cy@example.org", "source": "cms", "time_zone": "Europe/Paris "},
        {"email": "di@example.org", "source": "cms"},
        {"email": "ed@example.org", "source": "cms", "time_zone": ""},
    ]
    for confirmed in (False, True):
        wrong = [*people[:1], {**people[1], "time_zone": "Europe/Nowhere"}]
        answer = http.post(
            "/api/v1/subscribers/bulk",
            json={"subscribers": wrong, "confirmed": confirmed},
            headers=key,
        )
        assert answer.status_code == 422
        assert [d["loc"] for d in answer.json()["detail"]] == [
            ["body", "subscribers", 1, "time_zone"]
        ]
    with db.transaction() as session:
        assert session.scalar(select(Subscriber.id)) is None  # nobody stored
    pending = [{**p, "email": "p." + p["email"]} for p in people]
    answer = http.post("/api/v1/subscribers/bulk", json={"subscribers": pending}, headers=key)
    assert answer.json()["counts"] == {"queued": 4}
    active = {"subscribers": people, "confirmed": True}
    answer = http.post("/api/v1/subscribers/bulk", json=active, headers=key)
    assert answer.json()["counts"] == {"added": 4}
    one = {"email": "fi@example.org", "source": "cms", "time_zone": "Asia/Tokyo"}
    assert http.post("/api/v1/subscribers", json=one, headers=key).json()["result"] == "queued"
    vouched = {**one, "email": "gu@example.org", "confirmed": True}
    assert http.post("/api/v1/subscribers", json=vouched, headers=key).json()["result"] == "added"
    moved = {**pending[2], "time_zone": "America/Chicago"}  # known: the general signup path
    assert http.post("/api/v1/subscribers", json=moved, headers=key).json()["result"] == "throttled"
    with db.transaction() as session:
        zones = {e: z for e, z in session.execute(select(Subscriber.email, Subscriber.time_zone))}
    assert zones == {
        "p.bo@example.org": "Europe/Berlin",
        "p.cy@example.org": "Europe/Paris",
        "p.di@example.org": "America/Chicago",
        "p.ed@example.org": None,
        "bo@example.org": "Europe/Berlin",
        "cy@example.org": "Europe/Paris",
        "di@example.org": None,  # the default zone, NEWSLETTER_DEFAULT_TIME_ZONE
        "ed@example.org": None,
        "fi@example.org": "Asia/Tokyo",
        "gu@example.org": "Asia/Tokyo",
    }


def test_bulk_adds_are_checked_whole_and_bounded(
    db: Database,
    serve: Callable[..., LiveServer],
) -> None:
    site = serve(topics=["tech"], api_bulk_max_subscribers=3, api_max_body_bytes=20_000)
    key = bearer(make_key(db, "subscribers:write", "subscribers:erase"))
    with client(site) as http:
        people = [{"email": f"r{i}@example.org", "source": "cms"} for i in range(3)]
        bad = [*people[:2], {"email": "nope", "source": "cms", "topics": ["gardening"]}]
        answer = http.post("/api/v1/subscribers/bulk", json={"subscribers": bad}, headers=key)
        assert answer.status_code == 422
        assert [d["loc"] for d in answer.json()["detail"]] == [
            ["body", "subscribers", 2, "email"],
            ["body", "subscribers", 2, "topics"],
        ]
        with db.transaction() as session:
            assert session.scalar(select(Subscriber.id)) is None  # nobody stored

        answer = http.post("/api/v1/subscribers/bulk", json={"subscribers": people}, headers=key)
        assert answer.json()["counts"] == {"queued": 3}
        assert site.drain().sent == 3
        too_many = {"subscribers": [*people, {"email": "r9@example.org", "source": "cms"}]}
        answer = http.post("/api/v1/subscribers/bulk", json=too_many, headers=key)
        assert answer.status_code == 422
        assert answer.json()["detail"][0]["msg"] == "at most 3 subscribers in one request"
        huge = {"subscribers": [{"email": "x@example.org", "source": "c" * 30_000}]}
        assert http.post("/api/v1/subscribers/bulk", json=huge, headers=key).status_code == 413

        erased = http.post(
            "/api/v1/subscribers/erase", json={"email": "r0@example.org"}, headers=key
        )
        assert erased.json() == {"result": "erased"}
        again = http.post(
            "/api/v1/subscribers/erase", json={"email": "r0@example.org"}, headers=key
        )
        assert again.json() == {"result": "already-erased"}
        back = http.post("/api/v1/subscribers", json=people[0], headers=key)
        assert back.json()["result"] == "suppressed"
        bad = http.post("/api/v1/subscribers/erase", json={"email": "x"}, headers=key)
        assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["body", "email"]


def test_campaigns_and_reports_in_the_editor_apis_shapes(
    db: Database, site: LiveServer, http: httpx.Client
) -> None:
    import_examples(db)
    add_subscribers(db, 3)
    issue = send_issue(db, site.settings, new_campaign(db))
    key = bearer(make_key(db, "campaigns:read", "reports:read"))
    add_editor(db, "ann@example.org")
    with log_in(site, "ann@example.org") as editor:
        campaigns = http.get("/api/v1/campaigns", headers=key).json()
        assert campaigns == editor.get("/editor/api/campaigns").json()
        assert campaigns[0]["id"] == issue.campaign_id and campaigns[0]["sent"] > 0
        assert campaigns[0]["local_send_time"] is None  # sent at once
        path = f"/campaigns/{issue.campaign_id}/report"
        report = http.get(f"/api/v1{path}", headers=key).json()
        same = editor.get(f"/editor/api{path}").json()
        assert {**report, "generated_at": None} == {**same, "generated_at": None}
    assert http.get("/api/v1/campaigns/999/report", headers=key).status_code == 404


def test_listings_come_in_pages_with_a_link_to_the_next(
    db: Database, site: LiveServer, http: httpx.Client
) -> None:
    import_examples(db)
    made = [new_campaign(db, name=f"Issue {n}") for n in range(5)]
    key = bearer(make_key(db, "campaigns:read", "briefs:read"))
    add_editor(db, "ann@example.org")
    seen: list[int] = []
    url: str | None = "/api/v1/campaigns?per_page=2"
    while url:
        answer = http.get(url, headers=key)
        assert answer.status_code == 200 and len(answer.json()) <= 2
        seen += [c["id"] for c in answer.json()]
        url = answer.links.get("next", {}).get("url")
    assert seen == sorted(made, reverse=True)  # every campaign once, newest first
    with log_in(site, "ann@example.org") as editor:
        first = editor.get("/editor/api/campaigns?per_page=4")
        assert [c["id"] for c in first.json()] == seen[:4]
        last = editor.get(first.links["next"]["url"])
        assert [c["id"] for c in last.json()] == seen[4:] and "link" not in last.headers
        briefs = editor.get("/editor/api/briefs?per_page=1")
    assert len(briefs.json()) == 1 and "page=2" in briefs.links["next"]["url"]
    slugs = [b["slug"] for b in http.get("/api/v1/briefs?per_page=500", headers=key).json()]
    assert len(slugs) == len(set(slugs)) > 3 and briefs.json()[0]["slug"] == slugs[0]
    assert http.get(f"/api/v1/briefs?page=2&per_page={len(slugs)}", headers=key).json() == []
    for bad in ("per_page=0", "per_page=501", "page=0", "page=x"):
        refused = http.get(f"/api/v1/campaigns?{bad}", headers=key)
        assert refused.status_code == 422, bad
        assert refused.json()["detail"][0]["loc"][0] == "query"


def test_the_published_openapi_holds_only_the_v1_routes(http: httpx.Client) -> None:
    document = http.get("/api/v1/openapi.json").json()
    operations = {
        (method.upper(), path) for path, item in document["paths"].items() for method in item
    }
    assert {(m, p.replace(BRIEF["slug"], "{slug}").replace("/1/", "/{campaign_id}/"))
            for m, p in ROUTES} == operations  # fmt: skip
    assert "brief.Brief" in document["components"]["schemas"]
    for name in ("AddSubscriber", "SubscriberIn"):
        zone = document["components"]["schemas"][name]["properties"]["time_zone"]
        assert "IANA" in zone["description"] and {"type": "null"} in zone["anyOf"]
    public = http.get("/openapi.json").json()
    assert not [path for path in public["paths"] if path.startswith("/api/")]


def test_confirmed_people_get_the_welcome_series_only_with_welcome(
    db: Database, site: LiveServer, http: httpx.Client, tmp_path: Path
) -> None:
    """A vouched-for add (one or bulk) is not welcomed unless the body says ``welcome``; a
    person who confirms by our mail is, whatever the body said."""
    with db.transaction() as session:
        first = add_step(session, StepText(0, "Welcome", "Hello.")).id
    key = bearer(make_key(db, "subscribers:write", "subscribers:import-confirmed"))

    def add(email: str, **extra: object) -> str:
        body = {"email": email, "source": "crm", **extra}
        answer = http.post("/api/v1/subscribers", json=body, headers=key)
        assert answer.status_code == 200, answer.text
        return str(answer.json()["result"])

    assert add("one@example.org", confirmed=True) == "added"
    assert add("onew@example.org", confirmed=True, welcome=True) == "added"
    assert add("optin@example.org", welcome=False) == "queued"
    for welcome in (False, True):
        people = [
            {"email": f"bulk{n}-{str(welcome).lower()}@example.org", "source": "crm"}
            for n in (1, 2)
        ]
        body = {"subscribers": people, "confirmed": True, "welcome": welcome}
        answer = http.post("/api/v1/subscribers/bulk", json=body, headers=key)
        assert answer.json()["counts"] == {"added": 2}
    with db.transaction() as session:
        uid = find_by_email(session, "optin@example.org").uid
        confirm(session, uid, Origin(source="web"))
    settings = get_settings().model_copy(update={"outbox": tmp_path / "outbox"})
    queue_due_steps(db, settings)
    assert welcomed(db, first) == [
        "bulk1-true@example.org",
        "bulk2-true@example.org",
        "onew@example.org",
        "optin@example.org",
    ]
