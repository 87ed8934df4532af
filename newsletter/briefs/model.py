"""Tables of the brief content model: briefs with their ordered facts, sources and narratives."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import CheckConstraint, Float, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

import newsletter.editors.model  # noqa: F401  (the editors table a version refers to)
from newsletter.db import Base, utcnow


class BriefRow(Base):
    """A stored brief; children are replaced as a whole when the brief is re-imported."""

    __tablename__ = "briefs"
    __table_args__ = (CheckConstraint("status IN ('draft', 'ready')", name="status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(120), unique=True)
    title: Mapped[str] = mapped_column(String(300))
    updated: Mapped[date] = mapped_column(index=True)
    image_url: Mapped[str | None] = mapped_column(String(2000))
    image_credit: Mapped[str | None] = mapped_column(String(300))
    image_alt: Mapped[str | None] = mapped_column(String(300))
    topics: Mapped[list[str]] = mapped_column(default=list)
    status: Mapped[str] = mapped_column(String(10), default="draft", index=True)
    source_name: Mapped[str | None] = mapped_column(
        String(500), doc="The file the brief was last imported from."
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    modified_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    ready_at: Mapped[datetime | None] = mapped_column(
        doc="When the brief was last marked ready (the weekly digest picks by this week)."
    )

    facts: Mapped[list[FactRow]] = relationship(
        order_by="FactRow.position", cascade="all, delete-orphan", lazy="selectin"
    )
    sources: Mapped[list[SourceRow]] = relationship(
        order_by="SourceRow.number", cascade="all, delete-orphan", lazy="selectin"
    )
    narratives: Mapped[list[NarrativeRow]] = relationship(
        order_by="NarrativeRow.position", cascade="all, delete-orphan", lazy="selectin"
    )
    versions: Mapped[list[BriefVersionRow]] = relationship(
        order_by="BriefVersionRow.number",
        cascade="all, delete-orphan",
        lazy="select",
        passive_deletes=True,
    )


class FactRow(Base):
    __tablename__ = "brief_facts"
    __table_args__ = (UniqueConstraint("brief_id", "position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    brief_id: Mapped[int] = mapped_column(ForeignKey("briefs.id", ondelete="CASCADE"))
    position: Mapped[int]
    text: Mapped[str] = mapped_column(Text)
    citations: Mapped[list[int]] = mapped_column(default=list)


class SourceRow(Base):
    __tablename__ = "brief_sources"
    __table_args__ = (UniqueConstraint("brief_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    brief_id: Mapped[int] = mapped_column(ForeignKey("briefs.id", ondelete="CASCADE"))
    number: Mapped[int]
    label: Mapped[str | None] = mapped_column(String(300))
    url: Mapped[str | None] = mapped_column(String(2000))


class NarrativeRow(Base):
    __tablename__ = "brief_narratives"
    __table_args__ = (
        UniqueConstraint("brief_id", "position"),
        CheckConstraint("kind IN ('perspective', 'forecast', 'establishment')", name="kind"),
        CheckConstraint("probability IS NULL OR (probability >= 0 AND probability <= 1)", name="p"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    brief_id: Mapped[int] = mapped_column(ForeignKey("briefs.id", ondelete="CASCADE"))
    position: Mapped[int]
    kind: Mapped[str] = mapped_column(String(20))
    label: Mapped[str] = mapped_column(String(120))
    paragraphs: Mapped[list[str]] = mapped_column(default=list)
    probability: Mapped[float | None] = mapped_column(Float)
    forecaster: Mapped[str | None] = mapped_column(String(120))
    question: Mapped[str | None] = mapped_column(Text)
    as_of: Mapped[date | None]
    url: Mapped[str | None] = mapped_column(String(2000), doc="A forecast's question or market.")


class BriefVersionRow(Base):
    """One saved state of a brief's content (its structured document without the status),
    with who saved it and which fields changed since the version before."""

    __tablename__ = "brief_versions"
    __table_args__ = (UniqueConstraint("brief_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    brief_id: Mapped[int] = mapped_column(ForeignKey("briefs.id", ondelete="CASCADE"))
    number: Mapped[int]
    document: Mapped[dict[str, Any]]
    editor_id: Mapped[int | None] = mapped_column(ForeignKey("editors.id", ondelete="SET NULL"))
    editor_name: Mapped[str] = mapped_column(String(320))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    summary: Mapped[str] = mapped_column(String(1000))
