"""The editor's subscriber pages over HTTP, on SQLite and PostgreSQL: search and filters,
keyset pages, a subscriber's page, status changes with a reason (never an opt-in without
the reader's confirmation), the GDPR export, erasure (admins only), CSV import and export."""

from __future__ import annotations

import csv
import io
import json
import logging
import re
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from newsletter.db import Database, utcnow
from subscribers.model import ConsentRecord, QueuedMail, Segment, Subscriber, Suppression
from tests.campaigns.helpers import add_segment, add_subscribers
from tests.editor.conftest import Editor, flashes, sent_and_read
from tests.subscribers.conftest import LiveServer

LISTED = re.compile(r'<a href="/editor/subscribers/([A-Za-z0-9_-]+)">([^<]+)</a>')


def listed(html: str) -> list[str]:
    return [email for _uid, email in LISTED.findall(html)]


def uid_of(db: Database, email: str) -> str:
    with db.transaction() as session:
        return session.scalars(select(Subscriber.uid).where(Subscriber.email == email)).one()


def person(db: Database, email: str) -> Subscriber:
    with db.transaction() as session:
        return session.scalars(select(Subscriber).where(Subscriber.email_key == email)).one()


def consent_forms(db: Database, email: str) -> list[tuple[str, dict[str, object]]]:
    with db.transaction() as session:
        rows = session.execute(
            select(ConsentRecord.kind, ConsentRecord.form)
            .join(Subscriber, Subscriber.id == ConsentRecord.subscriber_id)
            .where(Subscriber.email == email)
            .order_by(ConsentRecord.id)
        )
        return [(kind, dict(form)) for kind, form in rows]


def test_search_filters_and_pages(db: Database, editor: Editor) -> None:
    add_subscribers(db, 3, topics=["climate"])
    add_subscribers(db, 2, start=10, status="unsubscribed")
    add_subscribers(db, 1, start=20)
    with db.transaction() as session:
        session.execute(
            update(Subscriber)
            .where(Subscriber.email == "reader20@example.org")
            .values(name="Zoë O'Brien <b>", lapsed_at=utcnow())
        )
    add_segment(db, "climate", {"type": "topics", "any": ["climate"]}, {})

    everyone = listed(editor.get("/editor/subscribers").text)
    assert len(everyone) == 6 and everyone[0] == "reader20@example.org"  # newest first
    assert listed(editor.get("/editor/subscribers", params={"q": "READER1"}).text) == [
        "reader11@example.org",
        "reader10@example.org",
        "reader1@example.org",
    ]
    found = editor.get("/editor/subscribers", params={"q": "o'brien <B>"})
    assert listed(found.text) == ["reader20@example.org"]  # the name, any case
    assert "Zoë O&#39;Brien &lt;b&gt;" in found.text  # escaped
    assert listed(editor.get("/editor/subscribers", params={"q": "%"}).text) == []
    assert listed(editor.get("/editor/subscribers", params={"status": "lapsed"}).text) == [
        "reader20@example.org"
    ]
    active = listed(editor.get("/editor/subscribers", params={"status": "active"}).text)
    assert active == ["reader2@example.org", "reader1@example.org", "reader0@example.org"]
    assert len(listed(editor.get("/editor/subscribers?topic=climate").text)) == 3
    with db.transaction() as session:
        segment_id = session.scalars(select(Segment.id)).one()
    page = editor.get("/editor/subscribers", params={"segment": str(segment_id)})
    assert len(listed(page.text)) == 3

    for query, field in (
        ({"status": "nobody"}, "status"),
        ({"topic": "cooking"}, "topic"),
        ({"segment": "999"}, "segment"),
        ({"engaged": "within", "days": "x"}, "days"),
        ({"engaged": "within", "days": "²"}, "days"),  # a digit to isdigit(), not to int()
        ({"engaged": "sometimes"}, "engaged"),
    ):
        answer = editor.get("/editor/subscribers", params=query)
        assert answer.status_code in (404, 422), (query, answer.status_code)
        if answer.status_code == 422:
            assert f"{field}:" in answer.text, query


def next_page(editor: Editor, html: str) -> str:
    found = re.search(r'<a href="([^"]+)" rel="next">', html)
    assert found, "no next page"
    return editor.get(found.group(1).replace("&amp;", "&")).text


def test_pages_are_keyed_and_end(db: Database, editor: Editor) -> None:
    add_subscribers(db, 120)
    first = editor.get("/editor/subscribers").text
    rows = listed(first)
    assert len(rows) == 50 and rows[0] == "reader119@example.org"
    second = next_page(editor, first)
    assert listed(second)[0] == "reader69@example.org"
    third = next_page(editor, second)
    assert len(listed(third)) == 20 and 'rel="next"' not in third
    assert listed(third)[-1] == "reader0@example.org"
    # A page ends at a subscriber's public uid (the integer id never leaves the database).
    cursor = re.search(r'after=([^"&]+)" rel="next">', first)
    assert cursor and cursor.group(1) == uid_of(db, "reader70@example.org")
    unknown = editor.get("/editor/subscribers", params={"after": "nobody-at-all"})
    assert unknown.status_code == 422 and "names no subscriber" in unknown.text


def test_a_window_that_ends_early_continues_below_where_it_looked(
    db: Database, editor: Editor, monkeypatch: pytest.MonkeyPatch
) -> None:
    add_subscribers(db, 30)
    monkeypatch.setattr("subscribers.search.SCAN_WINDOW", 10)
    found: list[str] = []
    page = editor.get("/editor/subscribers", params={"q": "reader1"}).text
    for _ in range(5):
        found += listed(page)
        more = re.search(r'<a href="([^"]+)" rel="next">Look further', page)
        if not more:
            break
        assert re.search(r"after=[A-Za-z0-9_-]{16,}", more.group(1))
        page = editor.get(more.group(1).replace("&amp;", "&")).text
    expected = [f"reader{n}@example.org" for n in range(29, -1, -1) if str(n).startswith("1")]
    assert found == expected


def test_engagement_filters_and_the_subscriber_page(
    db: Database, site: LiveServer, editor: Editor
) -> None:
    sent_and_read(db, site)
    engaged = listed(editor.get("/editor/subscribers?engaged=within&days=7").text)
    assert set(engaged) == {
        "reader0@example.org",
        "reader1@example.org",
        "reader2@example.org",
        "reader100@example.org",
    }
    never = set(listed(editor.get("/editor/subscribers?engaged=never&status=active").text))
    assert "reader101@example.org" in never  # Apple's proxy is no reader
    assert "reader102@example.org" in never  # nor a mail scanner
    assert not never & set(engaged)

    page = editor.get(f"/editor/subscribers/{uid_of(db, 'reader0@example.org')}")
    assert page.status_code == 200
    deliveries = page.text.split('id="deliveries"')[1].split("</table>")[0]
    assert "Issue" in deliveries and "sent" in deliveries
    events = page.text.split('id="events"')[1].split("</table>")[0]
    assert events.count("opened") == 2 and "clicked" in events
    assert "not suppressed" in page.text
    assert editor.get("/editor/subscribers/nobody-at-all").status_code == 404


def test_unsubscribe_and_reactivate_with_a_reason(
    db: Database, site: LiveServer, editor: Editor
) -> None:
    add_subscribers(db, 1)
    uid = uid_of(db, "reader0@example.org")
    path = f"/editor/subscribers/{uid}/status"

    refused = editor.post(path, {"action": "unsubscribe", "reason": "  "})
    assert refused.status_code == 422 and "say why" in refused.text
    assert person(db, "reader0@example.org").status == "active"

    done = editor.follow(editor.post(path, {"action": "unsubscribe", "reason": "asked by phone"}))
    assert "reader0@example.org is unsubscribed." in flashes(done.text)
    assert person(db, "reader0@example.org").status == "unsubscribed"
    assert consent_forms(db, "reader0@example.org")[-1] == (
        "unsubscribe",
        {"reason": "asked by phone", "editor": "ann@example.org", "action": "unsubscribe"},
    )
    again = editor.post(path, {"action": "unsubscribe", "reason": "twice"})
    assert again.status_code == 422 and "is not subscribed" in again.text

    # Reactivating never opts in: pending, with a confirmation mail the reader must follow.
    editor.follow(editor.post(path, {"action": "reactivate", "reason": "wrote back <3"}))
    reader = person(db, "reader0@example.org")
    assert reader.status == "pending" and reader.confirmed_at is not None
    assert consent_forms(db, "reader0@example.org")[-1][0] == "add"
    assert site.drain().sent == 1
    assert [mail["To"] for mail in site.mails()] == ["Reader 0 <reader0@example.org>"]
    too_soon = editor.post(path, {"action": "reactivate", "reason": "again"})
    assert too_soon.status_code == 422 and "moments ago" in too_soon.text
    page = editor.get(f"/editor/subscribers/{uid}").text
    assert "wrote back &lt;3" in page  # the reason, escaped, in the consent history

    # A lapsed reader (active, not mailed) asked back gets one mail, not one per click.
    add_subscribers(db, 1, start=1)
    lapsed = "reader1@example.org"
    with db.transaction() as session:
        session.execute(
            update(Subscriber).where(Subscriber.email == lapsed).values(lapsed_at=utcnow())
        )
    lapsed_path = f"/editor/subscribers/{uid_of(db, lapsed)}/status"
    editor.follow(editor.post(lapsed_path, {"action": "reactivate", "reason": "asked"}))
    twice = editor.post(lapsed_path, {"action": "reactivate", "reason": "asked again"})
    assert twice.status_code == 422 and "moments ago" in twice.text
    assert site.drain().sent == 1

    with db.transaction() as session:
        session.execute(update(Subscriber).values(status="bounced"))
    bounced = editor.post(path, {"action": "reactivate", "reason": "try"})
    assert bounced.status_code == 422 and "cannot be reactivated" in bounced.text
    assert editor.post(path, {"action": "opt-in", "reason": "x"}).status_code == 422
    no_token = editor.http.post(path, data={"action": "unsubscribe", "reason": "x"})
    assert no_token.status_code == 403


def test_gdpr_export_and_erase_by_an_admin(db: Database, editor: Editor, admin: Editor) -> None:
    add_subscribers(db, 2)
    uid = uid_of(db, "reader0@example.org")
    download = editor.get(f"/editor/subscribers/{uid}/data.json")
    assert download.status_code == 200
    assert f'filename="subscriber-{uid}.json"' in download.headers["content-disposition"]
    data = json.loads(download.text)
    assert data["subscriber"]["email"] == "reader0@example.org"

    assert editor.get(f"/editor/subscribers/{uid}/erase").status_code == 403
    assert editor.post(f"/editor/subscribers/{uid}/erase", {"reason": "x"}).status_code == 403
    assert "Only an admin can erase" in editor.get(f"/editor/subscribers/{uid}").text

    confirm = admin.get(f"/editor/subscribers/{uid}/erase")
    assert confirm.status_code == 200 and "Erasing is final" in confirm.text
    wrong = admin.post(
        f"/editor/subscribers/{uid}/erase",
        {"confirm_email": "reader1@example.org", "reason": "ticket 12"},
    )
    assert wrong.status_code == 422 and person(db, "reader0@example.org").email is not None
    done = admin.follow(
        admin.post(
            f"/editor/subscribers/{uid}/erase",
            {"confirm_email": "Reader0@Example.org", "reason": "ticket 12"},
        )
    )
    assert "reader0@example.org is erased" in " ".join(flashes(done.text))
    with db.transaction() as session:
        row = session.scalars(select(Subscriber).where(Subscriber.uid == uid)).one()
        assert row.email is None and row.erased_at is not None
        assert session.scalar(select(Suppression.reason)) == "erased"
        forms = session.scalars(
            select(ConsentRecord.form).where(ConsentRecord.subscriber_id == row.id)
        ).all()
    assert forms == [{"erased": True, "editor": "root@example.org", "reason": "ticket 12"}]
    assert admin.get(f"/editor/subscribers/{uid}").status_code == 404


GOOD_CSV = "email,name,topics\nann@example.net,Ann,climate\nbob@example.net,=HYPERLINK(1),\n"


def test_import_shows_row_errors_and_imports_nothing(db: Database, editor: Editor) -> None:
    bad = GOOD_CSV + "not-an-address,Carl,\nzed@example.net,Zed,cooking\n"
    answer = editor.post(
        "/editor/subscribers/import", files={"file": ("list.csv", bad.encode(), "text/csv")}
    )
    assert answer.status_code == 422
    problems = answer.text.split('id="import-problems"')[1]
    assert "Nothing was imported" in answer.text
    assert re.search(r'<td>list.csv</td><td class="num">4</td><td>email</td><td>\w', problems)
    assert re.search(r'<td class="num">5</td><td>topics</td><td>', problems)
    with db.transaction() as session:
        assert session.scalar(select(Subscriber.id)) is None

    header_only = editor.post(
        "/editor/subscribers/import", files={"file": ("x.csv", b"name\nAnn\n", "text/csv")}
    )
    assert header_only.status_code == 422 and "no &#39;email&#39; column" in header_only.text
    latin = editor.post(
        "/editor/subscribers/import", files={"file": ("l.csv", "email\nzoë\n".encode("latin-1"))}
    )
    assert latin.status_code == 422 and "not UTF-8" in latin.text
    refused = editor.post(
        "/editor/subscribers/import",
        {"confirmed": "1"},
        files={"file": ("list.csv", GOOD_CSV.encode(), "text/csv")},
    )
    assert refused.status_code == 422 and "only an admin" in refused.text

    done = editor.post(
        "/editor/subscribers/import", files={"file": ("list.csv", GOOD_CSV.encode(), "text/csv")}
    )
    assert done.status_code == 200 and "2 imported as pending" in done.text
    assert person(db, "ann@example.net").status == "pending"
    with db.transaction() as session:  # imports get no confirmation mail, as on the CLI
        assert session.scalar(select(QueuedMail.id)) is None

    # Beyond the app's 16 KB body limit: this one form takes NEWSLETTER_EDITOR_IMPORT_MAX_BYTES.
    big = "email\n" + "".join(f"person{n}@example.net\n" for n in range(3000))
    assert len(big) > 50_000
    answer = editor.post(
        "/editor/subscribers/import", files={"file": ("big.csv", big.encode(), "text/csv")}
    )
    assert answer.status_code == 200 and "3000 imported" in answer.text
    too_big = editor.post("/editor/segments/new", {"name": "x", "rule_json": "x" * 20_000})
    assert too_big.status_code == 413  # every other form keeps the small limit


def test_an_admin_import_as_active_welcomes_only_when_ticked(db: Database, admin: Editor) -> None:
    page = admin.get("/editor/subscribers/import").text
    assert 'name="welcome"' in page
    plain = "email\nold@example.net\n"
    done = admin.post(
        "/editor/subscribers/import",
        {"confirmed": "1"},
        files={"file": ("a.csv", plain.encode(), "text/csv")},
    )
    assert done.status_code == 200 and "1 imported as active" in done.text
    welcomed = "email\nnew@example.net\n"
    done = admin.post(
        "/editor/subscribers/import",
        {"confirmed": "1", "welcome": "1"},
        files={"file": ("b.csv", welcomed.encode(), "text/csv")},
    )
    assert done.status_code == 200 and "1 imported as active" in done.text
    pending = admin.post(  # the box means nothing without "import them as active"
        "/editor/subscribers/import",
        {"welcome": "1"},
        files={"file": ("c.csv", b"email\nlater@example.net\n", "text/csv")},
    )
    assert pending.status_code == 200 and "1 imported as pending" in pending.text
    old, new, later = (person(db, f"{e}@example.net") for e in ("old", "new", "later"))
    assert old.welcome_from is None and later.welcome_from is None
    assert new.welcome_from is not None and new.welcome_from == new.confirmed_at


def test_export_is_formula_safe_and_filtered(
    db: Database, editor: Editor, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="newsletter.web.editor")
    editor.post(
        "/editor/subscribers/import", files={"file": ("list.csv", GOOD_CSV.encode(), "text/csv")}
    )
    add_subscribers(db, 1)
    answer = editor.get("/editor/subscribers/export.csv")
    assert answer.status_code == 200
    assert 'filename="subscribers.csv"' in answer.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(answer.text)))
    assert {row["email"] for row in rows} == {
        "ann@example.net",
        "bob@example.net",
        "reader0@example.org",
    }
    assert next(r for r in rows if r["email"] == "bob@example.net")["name"] == "'=HYPERLINK(1)"
    active = list(
        csv.DictReader(io.StringIO(editor.get("/editor/subscribers/export.csv?status=active").text))
    )
    assert [row["email"] for row in active] == ["reader0@example.org"]
    assert editor.get("/editor/subscribers/export.csv?status=nobody").status_code == 422
    # Who took the list, and how much of it, is in the server's log.
    said = [r.getMessage() for r in caplog.records if "exported" in r.getMessage()]
    assert said == [
        "ann@example.org exported 3 subscribers (status: any)",
        "ann@example.org exported 1 subscribers (status: active)",
    ]


def test_logged_out_nothing_opens(db: Database, site: LiveServer) -> None:
    add_subscribers(db, 1)
    import httpx

    with httpx.Client(base_url=site.url) as http:
        for path in ("/editor/subscribers", "/editor/subscribers/export.csv", "/editor/segments"):
            answer = http.get(path)
            assert answer.status_code == 303 and "/editor/login" in answer.headers["location"]


def test_reactivation_throttle_allows_a_later_resend(db: Database, editor: Editor) -> None:
    add_subscribers(db, 1, status="pending")
    with db.transaction() as session:
        session.execute(
            update(Subscriber).values(confirmation_sent_at=utcnow() - timedelta(hours=1))
        )
    uid = uid_of(db, "reader0@example.org")
    answer = editor.post(
        f"/editor/subscribers/{uid}/status", {"action": "reactivate", "reason": "resend"}
    )
    assert answer.status_code == 303
    with db.transaction() as session:
        assert session.scalar(select(QueuedMail.kind)) == "confirmation"
    assert person(db, "reader0@example.org").status == "pending"


def test_a_row_problem_names_its_column_when_it_can() -> None:
    from newsletter.errors import Problem
    from newsletter.web.editor.subscribers import located

    assert located(Problem("a.csv", 3, "column 2 (name): contains NUL")) == (
        "a.csv",
        3,
        "name",
        "contains NUL",
    )
    assert located(Problem("a.csv", 4, "attr.plan: too long: x")) == (
        "a.csv",
        4,
        "attr.plan",
        "too long: x",
    )
    assert located(Problem("a.csv", 5, "3 fields, the header has 2")) == (
        "a.csv",
        5,
        "",
        "3 fields, the header has 2",
    )
