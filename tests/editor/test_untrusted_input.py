"""Hostile input on the editor's side, over real HTTP: nested JSON on the API, YAML alias
bombs and huge files in uploads (parsed off the event loop), NUL characters in briefs and
campaign forms (refused alike on SQLite and PostgreSQL), and subjects that render too long."""

from __future__ import annotations

import json
import re
import threading
import time
from html import unescape

import httpx
import pytest
import yaml
from sqlalchemy import func, select

from campaigns.model import Campaign
from newsletter.briefs.model import BriefRow
from newsletter.db import Database
from tests.briefs.test_structured import YAML_BRIEF
from tests.campaigns.helpers import SLUGS, import_examples
from tests.conftest import SEED_BRIEF
from tests.editor.conftest import Editor

# 272 bytes that expand to 9**7 (4.8 million) strings for whoever walks the result.
ALIAS_BOMB = b"""a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
"""


def _upload(editor: Editor, *files: tuple[str, bytes]) -> httpx.Response:
    return editor.post(
        "/editor/briefs/upload",
        {},
        files=[("files", (name, content, "text/plain")) for name, content in files],
    )


def _problems(html: str) -> list[str]:
    return [unescape(p) for p in re.findall(r"<li><code>([^<]*)</code></li>", html)]


def _brief_count(db: Database) -> int:
    with db.transaction() as session:
        return session.scalar(select(func.count()).select_from(BriefRow)) or 0


@pytest.mark.parametrize("depth", [40, 5_000])
def test_deeply_nested_json_on_the_editor_api_is_a_4xx(
    db: Database, editor: Editor, depth: int
) -> None:
    import_examples(db)
    body = b'{"status": ' + b"[" * depth + b"]" * depth + b"}"
    answer = editor.http.put(
        f"/editor/api/briefs/{SLUGS[0]}/status",
        content=body,
        headers={"Content-Type": "application/json", "X-CSRF-Token": editor.csrf},
    )
    assert answer.status_code in (400, 422), answer.text
    assert "detail" in answer.json()


def test_a_yaml_alias_bomb_is_refused_at_once_with_its_line(db: Database, editor: Editor) -> None:
    assert len(ALIAS_BOMB) < 300
    started = time.perf_counter()
    answer = _upload(editor, ("bomb.yaml", ALIAS_BOMB))
    elapsed = time.perf_counter() - started
    assert answer.status_code == 422
    assert _problems(answer.text) == [
        "bomb.yaml:1: YAML anchors and aliases (& and *) are not allowed"
    ]
    assert elapsed < 1.0, f"the upload took {elapsed:.1f} s"  # it took many seconds before
    assert _brief_count(db) == 0


def test_an_anchor_without_alias_and_deep_nesting_are_refused_too(
    db: Database, editor: Editor
) -> None:
    anchored = YAML_BRIEF.replace("topics: [economy, europe]", "topics: &t [economy, europe]")
    deep = "slug: deep\ntitle: Deep\nupdated: 2026-11-20\nfacts: " + "[" * 40 + "]" * 40 + "\n"
    deep_json = '{"slug": "deep", "facts": ' + "[" * 5_000 + "]" * 5_000 + "}"
    answer = _upload(
        editor,
        ("anchored.yaml", anchored.encode()),
        ("deep.yaml", deep.encode()),
        ("deep.json", deep_json.encode()),
    )
    assert answer.status_code == 422
    assert _problems(answer.text) == [
        "anchored.yaml:4: YAML anchors and aliases (& and *) are not allowed",
        "deep.yaml:4: nests deeper than 32 levels",
        "deep.json:1: nests deeper than 32 levels",
    ]
    assert _brief_count(db) == 0


def test_other_requests_are_answered_while_a_large_upload_parses(
    db: Database, editor: Editor
) -> None:
    """The YAML parser runs in the thread pool: the event loop keeps serving meanwhile."""
    facts = "".join(f"  - text: fact number {n} is here\n" for n in range(26_000))
    big = f"slug: big\ntitle: Big\nupdated: 2026-11-20\nfacts:\n{facts}".encode()
    assert len(big) < 1_000_000
    finished: dict[str, float] = {}

    def upload() -> None:
        with httpx.Client(
            base_url=str(editor.http.base_url), cookies=editor.http.cookies, timeout=120
        ) as other:
            answer = other.post(
                "/editor/briefs/upload",
                data={"csrf_token": editor.csrf},
                files=[("files", ("big.yaml", big, "text/plain"))],
            )
        finished["upload"] = time.perf_counter()
        finished["status"] = answer.status_code

    answered: list[float] = []
    started = time.perf_counter()
    worker = threading.Thread(target=upload)
    worker.start()
    while worker.is_alive():  # small requests all along, as other editors would make them
        assert editor.get("/editor/api/me").status_code == 200
        answered.append(time.perf_counter())
        time.sleep(0.02)
    worker.join()
    assert finished["status"] == 422  # 26,000 facts: far more than a brief may hold
    # The 1 MB body is in within milliseconds; parsing it takes much longer. Were the parser
    # on the event loop, nothing would be answered between then and the upload's answer.
    while_parsing = [t for t in answered if started + 0.15 < t < finished["upload"]]
    assert finished["upload"] - started > 0.3, "the parse was too quick to tell anything"
    assert len(while_parsing) >= 2, "small requests waited for the parser"


def test_nul_characters_in_uploaded_briefs_are_refused_with_their_line(
    db: Database, editor: Editor
) -> None:
    """PostgreSQL cannot store NUL (it answered 500), SQLite stored it: now both refuse."""
    in_yaml = YAML_BRIEF.replace(
        "url: https://www.ecb.europa.eu/press/pr/2026/html/index.en.html",
        'url: "https://www.ecb.europa.eu/\\0press"',
    )
    as_json = json.dumps({**yaml.safe_load(YAML_BRIEF), "image_url": "https://a.b/\0"}, default=str)
    in_text = SEED_BRIEF.read_text(encoding="utf-8").replace("Donetsk city", "Donetsk\0city", 1)
    answer = _upload(
        editor,
        ("nul.yaml", in_yaml.encode()),
        ("nul.json", as_json.encode()),
        ("nul.txt", in_text.encode()),
    )
    assert answer.status_code == 422
    problems = _problems(answer.text)
    nul = "must not contain the NUL character U+0000"
    assert problems[0] == f"nul.yaml:14: source 1 url {nul}", problems
    assert problems[1].startswith("nul.json:")
    assert f"image url {nul}" in problems[1]
    assert problems[2] == "nul.txt:8: fact 1 text contains a control character", problems
    assert _brief_count(db) == 0


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("name", "Issue\0 1"),
        ("subject", "{{ first_title }}\0"),
        ("preheader", "\0"),
        ("briefs", SLUGS[0] + "\0"),
    ],
)
def test_a_nul_character_in_the_campaign_form_is_refused(
    db: Database, editor: Editor, field: str, value: str
) -> None:
    import_examples(db)
    clean: dict[str, object] = {"name": "Issue 1", "briefs": [SLUGS[0]]}
    fields = {**clean, field: value}
    refused = f"{field}: must not contain the NUL character U+0000"
    created = editor.post("/editor/campaigns/new", fields)
    assert created.status_code == 422 and refused in created.text, created.text[:500]
    assert editor.post("/editor/campaigns/new", clean).status_code == 303
    edited = editor.post("/editor/campaigns/1/edit", fields)
    assert edited.status_code == 422 and refused in edited.text, edited.text[:500]
    with db.transaction() as session:
        assert [c.name for c in session.scalars(select(Campaign))] == ["Issue 1"]


def test_a_subject_that_renders_too_long_is_refused_when_saved(
    db: Database, editor: Editor
) -> None:
    import_examples(db)
    cases = {
        "{% for n in range(100000) %}{{ first_title }}{% endfor %}": (
            "subject: the rendered subject is longer than 998 characters"
        ),
        "{{ 'x' * 1000000000 }}": "would build more than 10000 items",
    }
    for subject, why in cases.items():
        started = time.perf_counter()
        answer = editor.post(
            "/editor/campaigns/new", {"name": "Long", "briefs": [SLUGS[0]], "subject": subject}
        )
        assert answer.status_code == 422, answer.text[:500]
        assert why in answer.text
        assert time.perf_counter() - started < 5
    long_preheader = "{% for n in range(100) %}{{ first_title }} {% endfor %}"
    answer = editor.post(
        "/editor/campaigns/new",
        {"name": "Long", "briefs": [SLUGS[0]], "preheader": long_preheader},
    )
    assert answer.status_code == 422
    assert "the rendered preheader is longer than 500 characters" in answer.text
    with db.transaction() as session:
        assert session.scalars(select(Campaign)).all() == []
