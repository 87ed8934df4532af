"""Migration 0019 creates the brief version history and gives every existing brief version 1,
its document exactly what a save would have kept, on SQLite and PostgreSQL; it goes back."""

from __future__ import annotations

from datetime import UTC

from alembic import command
from sqlalchemy import inspect, select

from newsletter.briefs.importer import import_briefs
from newsletter.briefs.model import BriefVersionRow
from newsletter.briefs.store import list_brief_rows, load_brief
from newsletter.briefs.versions import version_document
from newsletter.db import Database
from newsletter.migrate import alembic_config
from tests.conftest import ROOT


def test_0019_backfills_version_one_and_goes_back(db: Database) -> None:
    import_briefs(db, [ROOT / "examples" / "briefs"])  # every kind of narrative, sources, images
    with db.transaction() as session:
        expected = {
            row.slug: version_document(load_brief(session, row.slug))
            for row in list_brief_rows(session)
        }
        modified = {row.slug: row.modified_at for row in list_brief_rows(session)}
    assert len(expected) >= 10
    with db.engine.begin() as connection:
        command.downgrade(alembic_config(connection), "0018")
    assert "brief_versions" not in inspect(db.engine).get_table_names()

    assert "0019" in db.upgrade()
    with db.transaction() as session:
        versions = list(session.scalars(select(BriefVersionRow)))
        by_slug = {v.document["slug"]: v for v in versions}
        assert len(versions) == len(expected)
        for slug, document in expected.items():
            version = by_slug[slug]
            assert version.number == 1
            assert version.document == document
            assert version.editor_id is None and version.editor_name == "before the history"
            assert version.created_at == modified[slug]
            assert version.created_at.tzinfo == UTC
    forecast = [v for v in versions if any(n.get("probability") for n in v.document["narratives"])]
    assert forecast  # the backfill carried forecast fields (probability, dates as ISO text)

    with db.engine.begin() as connection:
        command.downgrade(alembic_config(connection), "0018")
    assert "brief_versions" not in inspect(db.engine).get_table_names()
    assert "0019" in db.upgrade()
    with db.transaction() as session:  # backfilled again, once
        assert len(list(session.scalars(select(BriefVersionRow)))) == len(expected)
