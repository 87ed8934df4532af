"""Brief versions: the field-level diff and its one-line summary, and the store recording a
version on every save that changes the content (SQLite and PostgreSQL), whoever saves."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from newsletter.briefs.document import Brief
from newsletter.briefs.importer import import_briefs
from newsletter.briefs.model import BriefVersionRow
from newsletter.briefs.store import get_brief_row, load_brief, save_brief, set_status
from newsletter.briefs.structured import load_structured
from newsletter.briefs.versions import (
    Author,
    Change,
    brief_of_version,
    changes_of,
    diff_documents,
    get_version,
    latest_version,
    list_versions,
    record_version,
    show_value,
    summarize,
    version_document,
)
from newsletter.db import Database
from newsletter.editors.accounts import create_editor
from newsletter.editors.model import Editor
from newsletter.errors import ConflictError
from tests.briefs.test_structured import YAML_BRIEF

BRIEF = load_structured(YAML_BRIEF, source="b.yaml", fmt="yaml")


def _changed(**update: object) -> Brief:
    return Brief.model_validate({**BRIEF.model_dump(), **update})


def test_the_document_leaves_the_status_out_and_reads_back() -> None:
    document = version_document(BRIEF)
    assert "status" not in document
    assert document["narratives"][1]["as_of"] == "2026-11-19"
    again = brief_of_version(document)
    assert again.model_dump(exclude={"status"}) == BRIEF.model_dump(exclude={"status"})
    assert "status" not in again.model_fields_set


def test_the_diff_names_each_changed_field() -> None:
    data = BRIEF.model_dump(mode="json")
    data["title"] = "ECB holds"
    data["facts"][1]["citations"] = [1]
    data["facts"].append({"text": "New.", "citations": []})
    data["sources"].pop()
    data["narratives"][1]["probability"] = 0.4
    data["image_url"] = "https://example.org/a.jpg"
    after = version_document(Brief.model_validate(data))
    changes = diff_documents(version_document(BRIEF), after)
    assert [(c.where, c.before_text, c.after_text) for c in changes] == [
        ("title", "ECB holds rates at 2%", "ECB holds"),
        ("image url", "—", "https://example.org/a.jpg"),
        ("fact 2 citations", "[1], [2]", "[1]"),
        ("fact 3 added", "—", "New."),
        ("source 2 removed", "[2] Financial Times", "—"),
        ("narrative 2 probability", "0.35", "0.4"),
    ]
    assert summarize(changes) == (
        "title, image url, fact 2 citations, fact 3 added, source 2 removed, narrative 2 probability"
    )
    assert diff_documents(after, after) == [] and summarize([]) == "no change"


def test_values_read_as_an_editor_would() -> None:
    assert show_value(["One.", "Two."]) == "One.\n\nTwo."
    assert (
        show_value({"kind": "forecast", "label": "Nerd", "paragraphs": ["p"]})
        == "Nerd (forecast)\n\np"
    )
    assert show_value(None) == "—"
    long = summarize(
        [Change(("title",), "a", "b")] * 1 + [Change(("facts", i), None, {}) for i in range(300)]
    )
    assert len(long) == 1000 and long.endswith("…")


def _versions(db: Database) -> list[BriefVersionRow]:
    with db.transaction() as session:
        row = get_brief_row(session, BRIEF.slug)
        versions = list_versions(session, row.id)
        session.expunge_all()
        return versions


def test_every_changing_save_is_a_version_with_its_author(db: Database, tmp_path: Path) -> None:
    with db.transaction() as session:
        editor = create_editor(session, "ann@example.org", "correct horse battery staple", "editor")
        ann = Author(editor.email, editor.id)
        assert save_brief(session, BRIEF, author=ann)
        save_brief(session, BRIEF, author=ann)  # the same content: nothing to record
        set_status(session, [BRIEF.slug], "draft")  # workflow, not content
        save_brief(session, _changed(title="ECB holds again"), author=ann)
    path = tmp_path / "ecb.yaml"
    path.write_text(YAML_BRIEF.replace("Two members", "Three members"), encoding="utf-8")
    import_briefs(db, [path])
    versions = _versions(db)
    assert [(v.number, v.editor_name, v.summary) for v in versions] == [
        (3, "command line", "imported ecb.yaml: title, fact 2 text"),
        (2, "ann@example.org", "title"),
        (1, "ann@example.org", "first version"),
    ]
    assert versions[1].editor_id == editor.id and versions[0].editor_id is None
    assert versions[0].document == version_document(
        load_structured(path.read_text(), source="x", fmt="yaml")
    )
    with db.transaction() as session:
        first = get_version(session, get_brief_row(session, BRIEF.slug).id, 1)
        assert [c.where for c in changes_of(session, first)][:3] == ["slug", "title", "updated"]
        # deleting the editor keeps the version and its name
        session.delete(session.get(Editor, editor.id))
    kept = _versions(db)[1]
    assert (kept.editor_id, kept.editor_name) == (None, "ann@example.org")


def test_deleting_a_brief_deletes_its_versions(db: Database) -> None:
    with db.transaction() as session:
        save_brief(session, BRIEF)
        save_brief(session, _changed(title="Other"))
    with db.transaction() as session:
        session.delete(get_brief_row(session, BRIEF.slug))
    with db.transaction() as session:
        assert session.scalars(select(BriefVersionRow)).all() == []


def test_a_save_from_an_older_version_is_refused(db: Database) -> None:
    with db.transaction() as session:
        save_brief(session, BRIEF)
    with db.transaction() as session:
        save_brief(session, _changed(title="Second"), base_version=1)
    refused = pytest.raises(ConflictError, match="the brief is at version 2 now, not 1")
    with refused, db.transaction() as session:
        save_brief(session, _changed(title="Third"), base_version=1)
    with db.transaction() as session:
        assert [
            v.number for v in list_versions(session, get_brief_row(session, "ecb-holds-rates").id)
        ] == [2, 1]


def test_two_saves_numbering_one_version_conflict(db: Database) -> None:
    """The unique key is the guard: another save's version lands between this save reading
    the newest version and writing its own (no lock orders them on SQLite)."""
    with db.transaction() as session:
        save_brief(session, BRIEF)

    def other_save_lands(session: Session, *_: object) -> None:
        with db.transaction() as other:
            save_brief(other, _changed(title="The other save"))

    refused = pytest.raises(ConflictError, match="version 2 was saved meanwhile by another save")
    with refused, db.transaction() as session:
        row = get_brief_row(session, "ecb-holds-rates")
        assert latest_version(session, row.id) is not None
        event.listen(session, "before_flush", other_save_lands, once=True)
        record_version(session, row, _changed(title="This save"), Author("ann", None))
    with db.transaction() as session:
        assert load_brief(session, "ecb-holds-rates").title == "The other save"
