"""The brief edit and new-brief forms, their preview and the version history over real HTTP
(SQLite and PostgreSQL): the importer's problems beside their fields with what was typed
kept, nothing stored on any problem, CSRF and login, unknown slugs, reserved slugs, the
body-size and field-count limits, escaping in the form, the preview and the history,
restoring a version, and two saves (or creates, or a save and a restore) at once."""

from __future__ import annotations

import contextlib
import re
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from sqlalchemy import select

from newsletter.briefs.document import RESERVED_SLUGS
from newsletter.briefs.importer import MAX_BRIEF_BYTES, store_briefs
from newsletter.briefs.model import BriefRow, BriefVersionRow
from newsletter.briefs.store import load_brief
from newsletter.briefs.structured import load_structured
from newsletter.db import Database
from newsletter.web.editor import brief_edit, briefs
from newsletter.web.editor.auth import form_max_fields
from newsletter.web.editor.brief_form import form_from_brief
from tests.briefs.test_structured import YAML_BRIEF
from tests.editor.conftest import Editor, add_editor, client, csrf_of, flashes, log_in
from tests.subscribers.conftest import LiveServer

SLUG = "ecb-holds-rates"
SCRIPT = "<script>alert('x')</script>"
EDIT = f"/editor/briefs/{SLUG}/edit"


@pytest.fixture
def stored(db: Database) -> None:
    brief = load_structured(YAML_BRIEF, source="ecb.yaml", fmt="yaml")
    store_briefs(db, [(Path("ecb.yaml"), brief)])


def _fields(db: Database) -> dict[str, str]:
    """The edit form's values for the stored brief, as a browser would post them."""
    with db.transaction() as session:
        form = form_from_brief(load_brief(session, SLUG))
    values: dict[str, str] = {
        "slug": SLUG,
        "title": form.title,
        "updated": form.updated,
        "topics": form.topics,
        "image_url": form.image_url,
        "image_alt": form.image_alt,
        "image_credit": form.image_credit,
        "base_version": "1",
        "action": "save",
    }
    for kind in ("facts", "sources", "narratives"):
        for index, row in enumerate(getattr(form, kind)):
            for name, value in vars(row).items():
                values[f"{kind}-{index}-{name}"] = value
    return values


def _versions(db: Database) -> list[tuple[int, str, str]]:
    with db.transaction() as session:
        rows = session.execute(
            select(BriefVersionRow.number, BriefVersionRow.editor_name, BriefVersionRow.summary)
            .join(BriefRow)
            .where(BriefRow.slug == SLUG)
            .order_by(BriefVersionRow.number)
        )
        return [tuple(row) for row in rows]  # type: ignore[misc]


def _fact(db: Database, index: int) -> str:
    with db.transaction() as session:
        return load_brief(session, SLUG).facts[index].text


def _error_of(html: str, field: str) -> list[str]:
    return re.findall(rf'<p class="error" id="{re.escape(field)}-error-\d+">([^<]*)</p>', html)


def test_the_form_shows_every_field_of_the_brief(stored: None, editor: Editor) -> None:
    page = editor.get(EDIT)
    assert page.status_code == 200
    html = page.text
    for expected in (
        'name="title" type="text" value="ECB holds rates at 2%"',
        'name="updated" type="date" value="2026-11-20"',
        'value="economy, europe"',
        ">The ECB kept its deposit rate unchanged.</textarea>",
        'name="facts-1-citations" type="text" value="1, 2"',
        'name="sources-0-url" type="url" value="https://www.ecb.europa.eu/',
        'name="sources-1-label" type="text" value="Financial Times"',
        'name="narratives-1-probability" type="text" value="0.35"',
        'name="narratives-1-forecaster" type="text" value="Polymarket"',
        ">Will the ECB cut by March 2027?</textarea>",
        'name="narratives-1-as_of" type="date" value="2026-11-19"',
        '<option value="forecast" selected>',
        'name="base_version" value="1"',
        'src="/editor/briefs/ecb-holds-rates/email"',
        'formaction="/editor/briefs/preview" formtarget="brief-preview"',
    ):
        assert expected in html, expected
    number = re.search(r'<input id="sources-0-number"[^>]*>', html)
    assert number is not None
    assert number[0].endswith(' value="1" inputmode="numeric" class="short">'), number[0]
    assert 'inputmode="decimal" class="short">' in html and "&#34;" not in html


def test_digits_other_than_ascii_are_not_numbers(
    db: Database, stored: None, editor: Editor
) -> None:
    """str.isdigit() accepts "²", which int() refuses: these once answered 500."""
    values = _fields(db)
    stale = editor.post(EDIT, {**values, "base_version": "²"})
    assert stale.status_code == 409  # no version is numbered "²"
    assert _fact(db, 0) == "The ECB kept its deposit rate unchanged."
    odd = {**values, "sources-1-number": "³", "action": "add-sources"}
    edited = editor.post(EDIT, odd)
    assert edited.status_code == 200
    assert 'name="sources-2-number" type="text" value="2"' in edited.text  # "³" is no number
    new = {"title": "T", "sources-0-number": "³", "sources-0-url": "https://example.org/"}
    added = editor.post("/editor/briefs/new", {**new, "action": "add-sources"})
    assert added.status_code == 200
    assert 'name="sources-1-number" type="text" value="1"' in added.text
    saved = editor.post(EDIT, {**values, "sources-1-number": "³"})
    assert saved.status_code == 422
    assert _error_of(saved.text, "sources-1-number") != []


def test_saving_an_edit_stores_it_and_records_a_version(
    db: Database, stored: None, editor: Editor
) -> None:
    values = _fields(db)
    values["facts-0-text"] = "The ECB kept its deposit rate at 2%."
    values["sources-1-url"] = "https://www.ft.com/ecb"
    answer = editor.post(EDIT, values)
    page = editor.follow(answer)
    assert answer.headers["location"] == f"/editor/briefs/{SLUG}"
    assert f"Saved {SLUG} as version 2." in flashes(page.text)
    assert _fact(db, 0) == "The ECB kept its deposit rate at 2%."
    with db.transaction() as session:
        brief = load_brief(session, SLUG)
        assert brief.status == "ready"  # the form never changes the status
        assert brief.narratives[1].probability == 0.35
    assert _versions(db) == [
        (1, "command line", "imported ecb.yaml: first version"),
        (2, "ann@example.org", "fact 1 text, source 2 url"),
    ]
    again = editor.follow(editor.post(EDIT, {**values, "base_version": "2"}))
    assert "Nothing changed: no new version was saved." in flashes(again.text)
    assert len(_versions(db)) == 2


def test_problems_are_shown_beside_their_fields_and_nothing_is_saved(
    db: Database, stored: None, editor: Editor
) -> None:
    values = _fields(db)
    values.update(
        {
            "title": "",
            "facts-0-text": f"Changed {SCRIPT}",
            "facts-1-citations": "1, x",
            "narratives-1-probability": "1.5",
            "sources-0-url": "javascript:alert(1)",
        }
    )
    answer = editor.post(EDIT, values)
    assert answer.status_code == 422
    html = answer.text
    assert "Nothing was saved" in html
    assert _error_of(html, "title") == ["title is empty"]
    assert _error_of(html, "facts-1-citations")[0].startswith("fact 2 citation 2 ")
    assert _error_of(html, "narratives-1-probability")[0].startswith("narrative 2 probability ")
    assert _error_of(html, "sources-0-url")[0].startswith("source 1 url must be an http(s) URL")
    assert 'id="title" name="title" type="text" value="" aria-invalid="true"' in html
    # what was typed is kept, escaped
    assert "Changed &lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;</textarea>" in html
    assert SCRIPT not in html
    assert 'value="1, x"' in html and 'value="1.5"' in html
    assert _fact(db, 0) == "The ECB kept its deposit rate unchanged."
    assert len(_versions(db)) == 1


def test_rows_are_added_and_removed_without_script(
    db: Database, stored: None, editor: Editor
) -> None:
    values = _fields(db)
    values["facts-0-text"] = "Typed before adding a row."
    page = editor.post(EDIT, {**values, "action": "add-facts"})
    assert page.status_code == 200
    assert 'name="facts-2-text"' in page.text and 'name="facts-3-text"' not in page.text
    assert "Typed before adding a row.</textarea>" in page.text
    sources = editor.post(EDIT, {**values, "action": "add-sources"})
    assert 'name="sources-2-number" type="text" value="3"' in sources.text  # the next number
    values.update({"facts-2-text": "A third fact.", "facts-2-citations": "2"})
    values["facts-0-remove"] = "1"
    editor.follow(editor.post(EDIT, values))
    with db.transaction() as session:
        facts = [f.text for f in load_brief(session, SLUG).facts]
    assert facts == ["Two members dissented.", "A third fact."]


def test_a_form_opened_before_another_save_does_not_overwrite_it(
    db: Database, stored: None, editor: Editor
) -> None:
    values = _fields(db)
    editor.follow(editor.post(EDIT, {**values, "facts-0-text": "First editor's text."}))
    answer = editor.post(EDIT, {**values, "facts-1-text": "Second editor's text."})
    assert answer.status_code == 409
    assert "version 2 was saved after you opened this form (at version 1)" in answer.text
    assert "Second editor&#39;s text.</textarea>" in answer.text
    assert _fact(db, 0) == "First editor's text."
    assert _fact(db, 1) == "Two members dissented."


def _saves_meet(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make two saves meet just before writing, each past its own checks: the window in
    which, on SQLite (no row lock), both once committed. Where a lock orders them
    (PostgreSQL), the first waits out the meeting and goes on alone."""
    meeting = threading.Barrier(2, timeout=3)
    real = brief_edit.save_brief

    def save_after_meeting(*args: Any, **kwargs: Any) -> bool:
        with contextlib.suppress(threading.BrokenBarrierError):
            meeting.wait()
        return real(*args, **kwargs)

    monkeypatch.setattr(brief_edit, "save_brief", save_after_meeting)


def _at_once(*posts: Callable[[], httpx.Response]) -> list[httpx.Response]:
    with ThreadPoolExecutor(len(posts)) as pool:
        return [future.result() for future in [pool.submit(post) for post in posts]]


def test_two_saves_at_the_same_version_keep_one_and_refuse_the_other(
    db: Database, stored: None, editor: Editor, site: LiveServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    add_editor(db, "bea@example.org")
    values = _fields(db)
    _saves_meet(monkeypatch)
    with log_in(site, "bea@example.org") as bea:
        answers = _at_once(
            lambda: editor.post(EDIT, {**values, "facts-0-text": "Ann's text."}),
            lambda: bea.post(EDIT, {**values, "facts-1-text": "Bea's text."}),
        )
    assert sorted(a.status_code for a in answers) == [303, 409]
    assert [number for number, _, _ in _versions(db)] == [1, 2]
    kept = (_fact(db, 0) == "Ann's text.", _fact(db, 1) == "Bea's text.")
    assert kept in ((True, False), (False, True))
    (refused,) = [a for a in answers if a.status_code == 409]
    assert "Not saved:" in refused.text and "s text.</textarea>" in refused.text


def test_a_restore_and_a_save_at_the_same_version_keep_one(
    db: Database, stored: None, editor: Editor, site: LiveServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    add_editor(db, "bea@example.org")
    values = _fields(db)
    editor.follow(editor.post(EDIT, {**values, "facts-0-text": "Version two."}))
    values["base_version"] = "2"
    _saves_meet(monkeypatch)
    restore = f"/editor/briefs/{SLUG}/history/1/restore"
    with log_in(site, "bea@example.org") as bea:
        saved, restored = _at_once(
            lambda: editor.post(EDIT, {**values, "facts-1-text": "Ann's text."}),
            lambda: bea.post(restore, {"base_version": "2"}),
        )
        notices = flashes(bea.get(f"/editor/briefs/{SLUG}/history").text)
    assert [number for number, _, _ in _versions(db)] == [1, 2, 3]
    assert restored.status_code == 303
    if saved.status_code == 409:
        assert _fact(db, 0) == "The ECB kept its deposit rate unchanged."  # the restore
        assert notices == ["Restored version 1 of ecb-holds-rates as version 3."]
    else:
        assert saved.status_code == 303 and _fact(db, 1) == "Ann's text."
        assert notices == [
            "Not restored: the brief is at version 3 now, not 2. Look at the history, "
            "then restore again."
        ]


def test_two_new_briefs_of_one_slug_at_once_keep_one(
    db: Database, editor: Editor, site: LiveServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    add_editor(db, "bea@example.org")
    values = {"title": "Grid", "updated": "2026-12-01", "facts-0-text": "A fact.", "action": "save"}
    _saves_meet(monkeypatch)
    with log_in(site, "bea@example.org") as bea:
        answers = _at_once(
            lambda: editor.post("/editor/briefs/new", values),
            lambda: bea.post("/editor/briefs/new", {**values, "facts-0-text": "Another."}),
        )
    assert sorted(a.status_code for a in answers) == [303, 409]
    (refused,) = [a for a in answers if a.status_code == 409]
    assert _error_of(refused.text, "slug") != []
    with db.transaction() as session:
        assert session.scalars(select(BriefRow.slug)).all() == ["grid"]


def test_a_new_brief_is_added_as_a_draft(db: Database, stored: None, editor: Editor) -> None:
    form = editor.get("/editor/briefs/new")
    assert form.status_code == 200 and 'name="slug"' in form.text
    values = {
        "title": "Grid strikes: winter outlook",
        "updated": "2026-12-01",
        "topics": "europe",
        "facts-0-text": "Strikes hit the grid.",
        "facts-0-citations": "1",
        "sources-0-number": "1",
        "sources-0-url": "https://example.org/grid",
        "narratives-0-kind": "forecast",
        "narratives-0-label": "Nerd narrative",
        "narratives-0-paragraphs": "Markets expect outages.\n\nBut fewer than last year.",
        "narratives-0-probability": "0.7",
        "narratives-0-url": "https://example.org/market",
        "action": "save",
    }
    answer = editor.post("/editor/briefs/new", values)
    assert answer.headers["location"] == "/editor/briefs/grid-strikes-winter-outlook"
    with db.transaction() as session:
        brief = load_brief(session, "grid-strikes-winter-outlook")
    assert brief.status == "draft"
    assert brief.narratives[0].paragraphs == [
        "Markets expect outages.",
        "But fewer than last year.",
    ]
    assert brief.narratives[0].url == "https://example.org/market"
    taken = editor.post("/editor/briefs/new", {**values, "slug": SLUG})
    assert taken.status_code == 409
    assert _error_of(taken.text, "slug") == [
        f"a brief with the slug {SLUG!r} exists already: choose another slug, or edit that brief".replace(
            "'", "&#39;"
        )
    ]


def test_a_slug_that_names_an_editor_page_is_refused(db: Database, editor: Editor) -> None:
    words = {
        path.split("/")[3]
        for module in (brief_edit, briefs)
        for route in module.router.routes
        if (path := getattr(route, "path", "")).startswith("/editor/briefs/")
    }
    assert {word for word in words if not word.startswith("{")} == RESERVED_SLUGS
    values = {"title": "New", "updated": "2026-12-01", "facts-0-text": "A fact.", "action": "save"}
    for typed, slug in (("", "new"), ("preview", "preview"), ("upload", "upload")):
        answer = editor.post("/editor/briefs/new", {**values, "slug": typed})
        assert answer.status_code == 422, slug
        reason = f"slug &#39;{slug}&#39; is reserved (an editor page has that name)"
        assert _error_of(answer.text, "slug") == [reason]
    with db.transaction() as session:
        assert session.scalar(select(BriefRow.id)) is None
    saved = editor.post("/editor/briefs/new", {**values, "slug": "new-year"})
    assert saved.headers["location"] == "/editor/briefs/new-year"


def test_the_preview_is_the_email_escaped_in_its_own_sandbox(
    db: Database, stored: None, editor: Editor
) -> None:
    values = {**_fields(db), "facts-0-text": f"Previewed {SCRIPT}", "action": "preview"}
    answer = editor.post("/editor/briefs/preview", values)
    assert answer.status_code == 200
    assert "Previewed &lt;script&gt;" in answer.text and SCRIPT not in answer.text
    policy = answer.headers["content-security-policy"]
    assert "sandbox" in policy and "script-src" not in policy and "default-src 'none'" in policy
    assert _fact(db, 0) == "The ECB kept its deposit rate unchanged."  # nothing stored
    broken = editor.post("/editor/briefs/preview", {**values, "title": SCRIPT, "updated": "x"})
    assert broken.status_code == 422
    assert "updated input should be a valid date" in broken.text
    assert "sandbox" in broken.headers["content-security-policy"]


def test_history_lists_versions_shows_the_change_and_restores(
    db: Database, stored: None, editor: Editor
) -> None:
    values = _fields(db)
    editor.follow(editor.post(EDIT, {**values, "title": f"ECB {SCRIPT}"}))
    page = editor.get(f"/editor/briefs/{SLUG}/history")
    assert page.status_code == 200
    html = page.text
    assert "ann@example.org" in html and "command line" in html
    assert "<del>ECB holds rates at 2%</del>" in html
    assert "<ins>ECB &lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;</ins>" in html
    assert SCRIPT not in html
    first = editor.get(f"/editor/briefs/{SLUG}/history?version=1")
    assert "Restore version 1" in first.text
    assert "fact 1 added" in first.text
    assert '<input type="hidden" name="base_version" value="2">' in first.text
    token = csrf_of(first.text)
    restore = f"/editor/briefs/{SLUG}/history/1/restore"
    stale = editor.http.post(restore, data={"csrf_token": token, "base_version": "1"})
    assert stale.headers["location"] == f"/editor/briefs/{SLUG}/history"
    assert flashes(editor.follow(stale).text) == [
        "Not restored: the brief is at version 2 now, not 1. Look at the history, then "
        "restore again."
    ]
    restored = editor.http.post(restore, data={"csrf_token": token, "base_version": "2"})
    after = editor.follow(restored)
    assert f"Restored version 1 of {SLUG} as version 3." in flashes(after.text)
    assert _versions(db)[-1] == (3, "ann@example.org", "restored version 1: title")
    with db.transaction() as session:
        assert load_brief(session, SLUG).title == "ECB holds rates at 2%"
    assert editor.get(f"/editor/briefs/{SLUG}/history?version=9").status_code == 404


def test_an_upload_records_who_uploaded(db: Database, stored: None, editor: Editor) -> None:
    changed = YAML_BRIEF.replace("Two members dissented.", "Three members dissented.")
    answer = editor.post(
        "/editor/briefs/upload", files=[("files", ("ecb.yaml", changed.encode(), "text/plain"))]
    )
    assert answer.status_code == 303
    assert _versions(db)[-1] == (2, "ann@example.org", "imported ecb.yaml: fact 2 text")


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/editor/briefs/nope/edit"),
        ("POST", "/editor/briefs/nope/edit"),
        ("GET", "/editor/briefs/nope/history"),
        ("POST", "/editor/briefs/nope/history/1/restore"),
    ],
)
def test_unknown_slugs_are_404(stored: None, editor: Editor, method: str, path: str) -> None:
    data = {"csrf_token": editor.csrf, "title": "x"} if method == "POST" else None
    answer = editor.http.request(method, path, data=data, headers={"Accept": "text/html"})
    assert answer.status_code == 404
    assert "no brief with slug &#39;nope&#39;" in answer.text


def test_login_and_csrf_are_required(
    db: Database, stored: None, site: LiveServer, editor: Editor
) -> None:
    values = {**_fields(db), "title": "Hijacked"}
    with client(site) as anonymous:
        for path in (EDIT, "/editor/briefs/new", f"/editor/briefs/{SLUG}/history"):
            answer = anonymous.get(path)
            assert answer.status_code == 303 and "/editor/login" in answer.headers["location"]
        for path in (EDIT, "/editor/briefs/preview", f"/editor/briefs/{SLUG}/history/1/restore"):
            answer = anonymous.post(path, data=values)
            assert answer.status_code == 303 and "/editor/login" in answer.headers["location"]
    for path in (EDIT, "/editor/briefs/new", "/editor/briefs/preview"):
        refused = editor.http.post(path, data=values)  # no token
        assert refused.status_code == 403, path
        foreign = editor.http.post(
            path,
            data={**values, "csrf_token": editor.csrf},
            headers={"Origin": "https://evil.example"},
        )
        assert foreign.status_code == 403, path
    with db.transaction() as session:
        assert load_brief(session, SLUG).title == "ECB holds rates at 2%"


def test_the_forms_have_their_own_body_limit(db: Database, stored: None, serve: Any) -> None:
    site = serve(max_body_bytes=16_384, editor_brief_form_max_bytes=20_000)
    add_editor(db, "bea@example.org")
    with log_in(site, "bea@example.org") as bea:
        long = {"facts-0-text": "word " * 1_800, "narratives-0-paragraphs": "more " * 1_600}
        values = {**_fields(db), **long}  # 17 KB: above the app-wide limit, below the forms'
        assert bea.post("/editor/briefs/preview", values).status_code == 200
        too_big = {**values, "facts-1-text": "word " * 1_800}
        for path in (EDIT, "/editor/briefs/preview", "/editor/briefs/new"):
            answer = bea.post(path, too_big)
            assert answer.status_code == 413, path
            assert answer.json() == {"detail": "the request body is larger than 20000 bytes"}
        assert bea.post("/editor/campaigns/new", values).status_code == 413  # others: 16 KB


def test_a_brief_as_long_as_allowed_fits_the_form(
    db: Database, stored: None, editor: Editor
) -> None:
    values = _fields(db)
    for index in range(100):  # the most facts a brief may have, and many sources
        values[f"facts-{index}-text"] = f"Fact number {index}."
        values[f"facts-{index}-citations"] = "1"
    for index in range(2, 120):
        values[f"sources-{index}-number"] = str(index + 1)
        values[f"sources-{index}-label"] = f"Source {index + 1}"
        values[f"sources-{index}-url"] = f"https://example.org/{index}"
    assert len(values) > 500  # fields: well past the 200 a form could once have
    editor.follow(editor.post(EDIT, values))
    with db.transaction() as session:
        brief = load_brief(session, SLUG)
    assert (len(brief.facts), len(brief.sources)) == (100, 120)
    values["facts-100-text"] = "One too many."
    answer = editor.post(EDIT, {**values, "base_version": "2"})
    assert answer.status_code == 422
    assert _error_of(answer.text, "facts") == [
        "facts list should have at most 100 items after validation, not 101"
    ]


def test_a_non_latin_brief_that_uploads_also_saves_from_the_form(
    db: Database, stored: None, editor: Editor, site: LiveServer
) -> None:
    """URL-encoding posts each byte of non-Latin text as three: the form's default limit
    leaves room for a brief file up to the importer's own limit."""
    assert site.settings.editor_brief_form_max_bytes > 3 * MAX_BRIEF_BYTES
    values = _fields(db)
    for index in range(2, 80):
        values[f"facts-{index}-text"] = "Б" * 2_500  # 5,000 bytes of UTF-8 each
    text_bytes = sum(len(v.encode()) for k, v in values.items() if k.endswith("-text"))
    assert 380_000 < text_bytes < 420_000  # as a file: about 400 KB
    assert len(urlencode(values)) > 1_150_000  # as a form: three times as much
    answer = editor.post(EDIT, values)
    assert answer.status_code == 303, answer.text[:300]
    with db.transaction() as session:
        assert load_brief(session, SLUG).facts[79].text == "Б" * 2_500


def test_only_the_brief_forms_take_more_than_200_fields(
    db: Database, stored: None, editor: Editor
) -> None:
    values = _fields(db)
    for index in range(100):
        values[f"facts-{index}-text"] = f"Fact number {index}."
        values[f"facts-{index}-citations"] = "1"
    for index in range(2, 200):
        source = {"number": str(index + 1), "label": f"Source {index + 1}", "url": ""}
        values.update({f"sources-{index}-{name}": value for name, value in source.items()})
    for index in range(20):
        for name in ("label", "paragraphs", "probability", "forecaster", "question", "as_of"):
            values[f"narratives-{index}-{name}"] = ""
        values[f"narratives-{index}-url"] = ""
        values[f"narratives-{index}-kind"] = "perspective"
    assert len(values) + 1 == 970  # with the token: the largest brief as a browser posts it
    removed = {f"sources-{index}-remove": "1" for index in range(100, 200)}
    removed.update({f"narratives-{index}-remove": "1" for index in range(20)})
    answer = editor.post(EDIT, {**values, **removed})  # 1,090 fields with the token
    assert answer.status_code == 303, answer.text[:300]
    with db.transaction() as session:
        brief = load_brief(session, SLUG)
    assert (len(brief.facts), len(brief.sources), len(brief.narratives)) == (100, 100, 0)
    many = {f"field-{index}": "" for index in range(200)}
    restore = editor.post(f"/editor/briefs/{SLUG}/history/1/restore", many)
    assert restore.status_code == 400  # 201 fields
    assert editor.post("/editor/briefs/preview", many).status_code == 422  # an empty brief
    assert editor.post("/editor/segments/new", many).status_code == 400
    orders = {f"brief_order_brief-{index}": "" for index in range(300)}  # one per brief
    assert editor.post("/editor/campaigns/new", orders).status_code == 422  # no name
    assert form_max_fields(f"/editor/briefs/{SLUG}/edit") == 1_500
    assert form_max_fields(f"/editor/briefs/{SLUG}/edit/x") == 200
