"""Importing brief files into the database: all-or-nothing, updates in place, on both backends."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from sqlalchemy import func, select

from newsletter.briefs.importer import import_briefs, parse_uploads
from newsletter.briefs.model import BriefRow, FactRow, NarrativeRow
from newsletter.briefs.store import load_brief, set_status
from newsletter.db import Database
from newsletter.errors import BriefFormatError, NotFoundError
from tests.briefs.test_structured import YAML_BRIEF
from tests.conftest import SEED_BRIEF

SEED_SLUG = "ukrainian-commander-russia-losing-steam-in-bakhmut"


def count(db: Database, model: type) -> int:
    with db.transaction() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def test_seed_imports_and_loads_back_identically(db: Database, tmp_path: Path) -> None:
    (result,) = import_briefs(db, [SEED_BRIEF])
    assert result.created
    with db.transaction() as session:
        stored = load_brief(session, SEED_SLUG)
    assert stored == result.brief
    assert count(db, FactRow) == 6
    assert count(db, NarrativeRow) == 3


def test_reimport_updates_instead_of_duplicating(db: Database, tmp_path: Path) -> None:
    import_briefs(db, [SEED_BRIEF])
    with db.transaction() as session:
        set_status(session, [SEED_SLUG], "ready")
    edited = tmp_path / "seed.txt"
    edited.write_text(
        SEED_BRIEF.read_text(encoding="utf-8").replace("losing steam", "running out of steam"),
        encoding="utf-8",
    )
    (result,) = import_briefs(db, [edited])
    assert not result.created
    assert count(db, BriefRow) == 1
    assert count(db, FactRow) == 6
    with db.transaction() as session:
        stored = load_brief(session, SEED_SLUG)
    assert "running out of steam" in stored.facts[0].text
    assert stored.status == "ready"  # the file says nothing about status: it is kept


def test_import_of_several_files_is_all_or_nothing(db: Database, tmp_path: Path) -> None:
    shutil.copy(SEED_BRIEF, tmp_path / "a.txt")
    (tmp_path / "b.yaml").write_text(YAML_BRIEF, encoding="utf-8")
    (tmp_path / "c.yaml").write_text(
        YAML_BRIEF.replace("slug: ecb", "slug: other-ecb").replace(
            "updated: 2026-11-20", "updated: 2026-13-01"
        ),
        encoding="utf-8",
    )
    with pytest.raises(BriefFormatError) as info:
        import_briefs(db, [tmp_path])
    assert [str(p).split(":")[0:2] for p in info.value.problems] == [
        [str(tmp_path / "c.yaml"), "3"]
    ]
    assert count(db, BriefRow) == 0
    (tmp_path / "c.yaml").unlink()
    results = import_briefs(db, [tmp_path], mark_ready=True)
    assert sorted(r.brief.slug for r in results) == ["ecb-holds-rates", SEED_SLUG]
    with db.transaction() as session:
        assert {row.status for row in session.scalars(select(BriefRow))} == {"ready"}
        assert all(row.ready_at is not None for row in session.scalars(select(BriefRow)))


def test_duplicate_slugs_in_one_import_are_refused(db: Database, tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(YAML_BRIEF, encoding="utf-8")
    (tmp_path / "b.yaml").write_text(YAML_BRIEF, encoding="utf-8")
    with pytest.raises(BriefFormatError, match="is also the slug of"):
        import_briefs(db, [tmp_path])
    assert count(db, BriefRow) == 0


def test_missing_paths_and_unknown_slugs(db: Database, tmp_path: Path) -> None:
    with pytest.raises(BriefFormatError, match="no such file or folder"):
        import_briefs(db, [tmp_path / "nope.txt"])
    with pytest.raises(BriefFormatError, match="no brief files found"):
        import_briefs(db, [tmp_path])
    with db.transaction() as session, pytest.raises(NotFoundError, match="'missing'"):
        set_status(session, ["missing"], "ready")


def test_binary_and_huge_files_are_refused(db: Database, tmp_path: Path) -> None:
    (tmp_path / "bin.txt").write_bytes(b"Title\n\xff\xfe\n")
    with pytest.raises(BriefFormatError, match=r"bin\.txt:2: not valid UTF-8"):
        import_briefs(db, [tmp_path / "bin.txt"])
    (tmp_path / "big.txt").write_bytes(b"x" * 1_000_001)
    with pytest.raises(BriefFormatError, match="larger than 1 MB"):
        import_briefs(db, [tmp_path / "big.txt"])


def test_slugs_that_name_editor_pages_are_refused_where_they_stand() -> None:
    """``/editor/briefs/new`` is the new-brief form: a brief called "new" could not be opened."""
    named = YAML_BRIEF.replace("slug: ecb-holds-rates", "slug: new")
    title = "Ukrainian Commander: Russia 'Losing Steam' in Bakhmut"
    titled = SEED_BRIEF.read_text(encoding="utf-8").replace(title, "Preview")
    with pytest.raises(BriefFormatError) as caught:
        parse_uploads([("named.yaml", named.encode()), ("titled.txt", titled.encode())])
    assert [str(p) for p in caught.value.problems] == [
        "named.yaml:1: slug 'new' is reserved (an editor page has that name)",
        "titled.txt:1: slug 'preview' is reserved (an editor page has that name)",
    ]
    (ok,) = parse_uploads([("ok.yaml", named.replace("slug: new", "slug: new-rates").encode())])
    assert ok[1].slug == "new-rates"
