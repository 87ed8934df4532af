"""brief versions

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-02

Briefs get a version history (``brief_versions``): every save that changes a brief's content
keeps its structured document, who saved it and which fields changed. Every existing brief
gets version 1, its document built from its stored rows exactly as
``newsletter.briefs.versions.version_document`` builds it (the canonical mapping without
status), dated when the brief was last modified and saved by nobody known.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

import newsletter.db

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BACKFILL_AUTHOR = "before the history"
BACKFILL_SUMMARY = "first version (stored before versions were kept)"

_briefs = sa.table(
    "briefs",
    sa.column("id", sa.Integer()),
    sa.column("slug", sa.String()),
    sa.column("title", sa.String()),
    sa.column("updated", sa.Date()),
    sa.column("image_url", sa.String()),
    sa.column("image_credit", sa.String()),
    sa.column("image_alt", sa.String()),
    sa.column("topics", sa.JSON()),
    sa.column("modified_at", newsletter.db.UTCDateTime()),
)
_facts = sa.table(
    "brief_facts",
    sa.column("brief_id", sa.Integer()),
    sa.column("position", sa.Integer()),
    sa.column("text", sa.Text()),
    sa.column("citations", sa.JSON()),
)
_sources = sa.table(
    "brief_sources",
    sa.column("brief_id", sa.Integer()),
    sa.column("number", sa.Integer()),
    sa.column("label", sa.String()),
    sa.column("url", sa.String()),
)
_narratives = sa.table(
    "brief_narratives",
    sa.column("brief_id", sa.Integer()),
    sa.column("position", sa.Integer()),
    sa.column("kind", sa.String()),
    sa.column("label", sa.String()),
    sa.column("paragraphs", sa.JSON()),
    sa.column("probability", sa.Float()),
    sa.column("forecaster", sa.String()),
    sa.column("question", sa.Text()),
    sa.column("as_of", sa.Date()),
    sa.column("url", sa.String()),
)
_NARRATIVE_FIELDS = ("kind", "label", "paragraphs", "probability", "forecaster", "question")


def upgrade() -> None:
    versions = op.create_table(
        "brief_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("brief_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("document", sa.JSON(), nullable=False),
        sa.Column("editor_id", sa.Integer(), nullable=True),
        sa.Column("editor_name", sa.String(length=320), nullable=False),
        sa.Column("created_at", newsletter.db.UTCDateTime(), nullable=False),
        sa.Column("summary", sa.String(length=1000), nullable=False),
        sa.ForeignKeyConstraint(
            ["brief_id"],
            ["briefs.id"],
            name=op.f("fk_brief_versions_brief_id_briefs"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["editor_id"],
            ["editors.id"],
            name=op.f("fk_brief_versions_editor_id_editors"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_brief_versions")),
        sa.UniqueConstraint("brief_id", "number", name=op.f("uq_brief_versions_brief_id_number")),
    )
    assert versions is not None
    rows = _backfill_rows(op.get_bind())
    if rows:
        op.bulk_insert(versions, rows)


def _backfill_rows(connection: sa.Connection) -> list[dict[str, Any]]:
    facts: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for fact in connection.execute(sa.select(_facts).order_by(_facts.c.position)).mappings():
        facts[fact["brief_id"]].append(
            {"text": fact["text"], "citations": list(fact["citations"] or [])}
        )
    sources: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for source in connection.execute(sa.select(_sources).order_by(_sources.c.number)).mappings():
        sources[source["brief_id"]].append(
            _present({"number": source["number"], "label": source["label"], "url": source["url"]})
        )
    narratives: dict[int, list[dict[str, Any]]] = defaultdict(list)
    query = sa.select(_narratives).order_by(_narratives.c.position)
    for narrative in connection.execute(query).mappings():
        item = {name: narrative[name] for name in _NARRATIVE_FIELDS}
        item["paragraphs"] = list(item["paragraphs"] or [])
        as_of = narrative["as_of"]
        item["as_of"] = as_of.isoformat() if as_of else None
        item["url"] = narrative["url"]
        narratives[narrative["brief_id"]].append(_present(item))
    rows: list[dict[str, Any]] = []
    for brief in connection.execute(sa.select(_briefs).order_by(_briefs.c.id)).mappings():
        document = _present(
            {
                "slug": brief["slug"],
                "title": brief["title"],
                "updated": brief["updated"].isoformat(),
                "image_url": brief["image_url"],
                "image_credit": brief["image_credit"],
                "image_alt": brief["image_alt"],
                "topics": list(brief["topics"] or []),
                "facts": facts[brief["id"]],
                "sources": sources[brief["id"]],
                "narratives": narratives[brief["id"]],
            }
        )
        rows.append(
            {
                "brief_id": brief["id"],
                "number": 1,
                "document": document,
                "editor_id": None,
                "editor_name": BACKFILL_AUTHOR,
                "created_at": brief["modified_at"],
                "summary": BACKFILL_SUMMARY,
            }
        )
    return rows


def _present(values: dict[str, Any]) -> dict[str, Any]:
    """The canonical mapping leaves out what is not set (``exclude_none``)."""
    return {name: value for name, value in values.items() if value is not None}


def downgrade() -> None:
    op.drop_table("brief_versions")
