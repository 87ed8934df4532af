"""The briefs pages over real HTTP: upload (all or nothing, problems inline), list with
warnings, a brief as the email shows it (in a sandboxed frame), ready and back to draft."""

from __future__ import annotations

import json

import httpx
import yaml
from sqlalchemy import func, select

from newsletter.briefs.model import BriefRow
from newsletter.db import Database
from tests.briefs.test_structured import YAML_BRIEF
from tests.conftest import SEED_BRIEF
from tests.editor.conftest import Editor, flashes

SEED_SLUG = "ukrainian-commander-russia-losing-steam-in-bakhmut"
SCRIPT = "<script>alert('x')</script>"


def _briefs(db: Database) -> dict[str, str]:
    with db.transaction() as session:
        return dict(session.execute(select(BriefRow.slug, BriefRow.status)).all())


def _upload(editor: Editor, *files: tuple[str, bytes], ready: bool = False) -> httpx.Response:
    data = {"ready": "1"} if ready else {}
    return editor.post(
        "/editor/briefs/upload",
        data,
        files=[("files", (name, content, "text/plain")) for name, content in files],
    )


def test_uploading_briefs_in_each_format_stores_them(db: Database, editor: Editor) -> None:
    as_json = json.dumps(
        default=str, obj={**yaml.safe_load(YAML_BRIEF), "slug": "ecb-json", "updated": "2026-11-21"}
    )
    answer = _upload(
        editor,
        ("seed.txt", SEED_BRIEF.read_bytes()),
        ("ecb.yaml", YAML_BRIEF.encode()),
        ("ecb.json", as_json.encode()),
        ready=True,
    )
    listing = editor.follow(answer)
    assert listing.status_code == 200
    assert f"Added {SEED_SLUG} from seed.txt." in flashes(listing.text)
    assert _briefs(db) == {SEED_SLUG: "ready", "ecb-holds-rates": "ready", "ecb-json": "ready"}
    assert "sources without a URL: [2]" in listing.text  # warnings in the list

    single = _upload(editor, ("ecb.yaml", YAML_BRIEF.replace("Two members", "Three").encode()))
    assert single.headers["location"] == "/editor/briefs/ecb-holds-rates"
    page = editor.follow(single)
    assert "Updated ecb-holds-rates from ecb.yaml." in flashes(page.text)


def test_a_bad_file_stores_nothing_and_every_problem_is_shown_with_its_line(
    db: Database, editor: Editor
) -> None:
    broken = YAML_BRIEF.replace("updated: 2026-11-20", "updated: 2026-13-01").replace(
        "slug: ecb-holds-rates", "slug: other"
    )
    answer = _upload(
        editor,
        ("seed.txt", SEED_BRIEF.read_bytes()),
        ("../../etc/broken.yaml", broken.encode()),
        ("notes.docx", b"PK\x03\x04"),
        ("latin1.txt", "Título\n".encode("latin-1")),
    )
    assert answer.status_code == 422
    text = answer.text
    assert "Nothing was stored" in text
    assert "<code>broken.yaml:3: " in text  # FILE:LINE: why, with the path cut to its name
    assert "<code>notes.docx: unknown brief format" in text
    assert "<code>latin1.txt:1: not valid UTF-8 text</code>" in text
    assert 'aria-invalid="true"' in text
    assert _briefs(db) == {}


def test_an_upload_with_no_file_is_explained(db: Database, editor: Editor) -> None:
    answer = editor.post("/editor/briefs/upload", {}, files=[("files", ("", b"", "text/plain"))])
    assert answer.status_code == 422 and "choose at least one brief file" in answer.text


def test_marking_ready_and_back_to_draft(db: Database, editor: Editor) -> None:
    _upload(editor, ("seed.txt", SEED_BRIEF.read_bytes()))
    assert _briefs(db)[SEED_SLUG] == "draft"
    page = editor.follow(editor.post(f"/editor/briefs/{SEED_SLUG}/status", {"status": "ready"}))
    assert f"{SEED_SLUG} is ready." in flashes(page.text)
    assert _briefs(db)[SEED_SLUG] == "ready"
    back = editor.post(
        f"/editor/briefs/{SEED_SLUG}/status", {"status": "draft", "back": "/editor/briefs"}
    )
    assert back.headers["location"] == "/editor/briefs"
    assert _briefs(db)[SEED_SLUG] == "draft"
    assert editor.post(f"/editor/briefs/{SEED_SLUG}/status", {"status": "gone"}).status_code == 422
    assert editor.post("/editor/briefs/nope/status", {"status": "ready"}).status_code == 404


def test_a_brief_page_shows_the_email_in_a_sandboxed_frame(db: Database, editor: Editor) -> None:
    hostile = YAML_BRIEF.replace("ECB holds rates at 2%", f"ECB {SCRIPT} holds")
    _upload(editor, ("ecb.yaml", hostile.encode()))
    page = editor.get("/editor/briefs/ecb-holds-rates")
    assert page.status_code == 200
    assert SCRIPT not in page.text and "&lt;script&gt;" in page.text
    assert '<iframe class="w600" src="/editor/briefs/ecb-holds-rates/email" sandbox' in page.text
    assert "sources without a URL: [2]" in page.text
    assert "citations without a source URL, shown unlinked: [2]" in page.text  # the compiler's

    email = editor.get("/editor/briefs/ecb-holds-rates/email")
    assert email.status_code == 200 and "The ECB kept its deposit rate unchanged." in email.text
    assert SCRIPT not in email.text
    policy = email.headers["content-security-policy"]
    assert "sandbox" in policy and "script-src" not in policy and "default-src 'none'" in policy
    assert "frame-ancestors 'self'" in policy and email.headers["x-frame-options"] == "SAMEORIGIN"
    assert "%%nl_" not in email.text  # filled with sample values
    assert editor.get("/editor/briefs/nope").status_code == 404
    with db.transaction() as session:
        assert session.scalar(select(func.count()).select_from(BriefRow)) == 1
