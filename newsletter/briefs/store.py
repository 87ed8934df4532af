"""Save and load briefs: the canonical :class:`Brief` in, rows out, and back."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import case, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from newsletter.briefs.document import Brief, BriefStatus, Fact, Narrative, Source
from newsletter.briefs.model import BriefRow, FactRow, NarrativeRow, SourceRow
from newsletter.briefs.versions import COMMAND_LINE, Author, record_version
from newsletter.db import utcnow
from newsletter.errors import ConflictError, NotFoundError
from newsletter.suggest import did_you_mean, missing_names


def brief_from_row(row: BriefRow) -> Brief:
    """The canonical brief a stored row represents."""
    return Brief(
        slug=row.slug,
        title=row.title,
        updated=row.updated,
        image_url=row.image_url,
        image_credit=row.image_credit,
        image_alt=row.image_alt,
        topics=list(row.topics),
        status=row.status,
        facts=[Fact.model_validate(f, from_attributes=True) for f in row.facts],
        sources=[Source.model_validate(s, from_attributes=True) for s in row.sources],
        narratives=[Narrative.model_validate(n, from_attributes=True) for n in row.narratives],
    )


def save_brief(
    session: Session,
    brief: Brief,
    *,
    source_name: str | None = None,
    author: Author = COMMAND_LINE,
    note: str = "",
    base_version: int | None = None,
) -> bool:
    """Insert the brief, or update the stored one with the same slug; True when it is new.

    A brief whose file does not state its status keeps the status it already has, so
    re-importing a corrected file does not silently withdraw a brief marked ready. Every
    save that changes the content adds a version (:mod:`newsletter.briefs.versions`) saying
    who saved it; the row is locked meanwhile (PostgreSQL), so two saves number in turn.
    ``base_version``: the version the save started from; a newer one refuses the save
    (:class:`~newsletter.errors.ConflictError`, see :func:`record_version`); ``0`` for a new
    brief, refused if the slug is taken (also when another save took it a moment ago).
    """
    row = session.scalar(select(BriefRow).where(BriefRow.slug == brief.slug).with_for_update())
    if row is not None and base_version == 0:
        raise ConflictError(f"a brief with the slug {brief.slug!r} exists already")
    created = row is None
    if row is None:
        row = BriefRow(slug=brief.slug, status="draft")
        session.add(row)
    else:
        row.facts.clear()
        row.sources.clear()
        row.narratives.clear()
        session.flush()  # delete old children before inserting new ones at the same positions
    row.title = brief.title
    row.updated = brief.updated
    row.image_url = brief.image_url
    row.image_credit = brief.image_credit
    row.image_alt = brief.image_alt
    row.topics = list(brief.topics)
    row.source_name = source_name
    if created or "status" in brief.model_fields_set:
        _set_status(row, brief.status)
    row.facts = [FactRow(position=i, **f.model_dump()) for i, f in enumerate(brief.facts)]
    row.sources = [SourceRow(**source.model_dump()) for source in brief.sources]
    row.narratives = [
        NarrativeRow(position=i, **n.model_dump()) for i, n in enumerate(brief.narratives)
    ]
    try:
        session.flush()
    except IntegrityError as exc:  # the unique slug: another save created it meanwhile
        if not created or "slug" not in str(exc.orig):
            raise
        raise ConflictError(
            f"a brief with slug {brief.slug!r} was created meanwhile by another save"
        ) from None
    record_version(session, row, brief, author, note=note, base=base_version)
    return created


def _set_status(row: BriefRow, status: BriefStatus) -> None:
    if status == "ready" and row.status != "ready":
        row.ready_at = utcnow()
    row.status = status


def get_brief_row(session: Session, slug: str) -> BriefRow:
    row = session.scalar(select(BriefRow).where(BriefRow.slug == slug))
    if row is None:
        raise NotFoundError(
            f"no brief with slug {slug!r}{did_you_mean(slug, brief_slugs(session))}"
        )
    return row


def load_brief(session: Session, slug: str) -> Brief:
    return brief_from_row(get_brief_row(session, slug))


def load_briefs(session: Session, slugs: Sequence[str]) -> list[Brief]:
    """Briefs in the order asked for; every slug must exist."""
    rows = session.scalars(select(BriefRow).where(BriefRow.slug.in_(slugs))).all()
    by_slug = {row.slug: row for row in rows}
    missing = [slug for slug in slugs if slug not in by_slug]
    if missing:
        raise NotFoundError(missing_names("no brief with slug", missing, brief_slugs(session)))
    return [brief_from_row(by_slug[slug]) for slug in slugs]


def brief_slugs(session: Session) -> list[str]:
    """Every stored brief's slug (for "did you mean …" when one is not found)."""
    return list(session.scalars(select(BriefRow.slug)))


def list_brief_rows(
    session: Session,
    *,
    status: BriefStatus | None = None,
    page: int | None = None,
    size: int = 100,
) -> list[BriefRow]:
    """Stored briefs, newest first: every one, or page ``page`` (from 1) of ``size``, with one
    more when there is a next page."""
    query = select(BriefRow).order_by(BriefRow.updated.desc(), BriefRow.slug)
    if status is not None:
        query = query.where(BriefRow.status == status)
    if page is not None:
        query = query.offset((page - 1) * size).limit(size + 1)
    return list(session.scalars(query))


def offered_brief_rows(
    session: Session,
    *,
    keep: Iterable[str] = (),
    keep_ids: Iterable[int] = (),
    find: str = "",
    limit: int = 300,
) -> tuple[list[BriefRow], int]:
    """The briefs a campaign form offers, and how many match in all: every brief in
    ``keep`` (slugs) or ``keep_ids`` (what the campaign holds), then up to ``limit`` others,
    ready ones first, newest first, whose title or slug contains ``find``. Bounded, so the
    form stays one page and one post's worth of fields however many briefs are stored."""
    storable = {slug for slug in keep if "\x00" not in slug}  # PostgreSQL refuses NUL in text
    wanted = or_(BriefRow.slug.in_(storable), BriefRow.id.in_(set(keep_ids)))
    held = list(session.scalars(select(BriefRow).where(wanted)))
    others = select(BriefRow).where(BriefRow.id.not_in([row.id for row in held]))
    find = find.replace("\x00", "")
    if find.strip():
        pattern = "%" + find.strip().lower().replace("%", "").replace("_", "") + "%"
        matching = or_(func.lower(BriefRow.title).like(pattern), BriefRow.slug.like(pattern))
        others = others.where(matching)
    total = session.scalar(select(func.count()).select_from(others.subquery())) or 0
    ready_first = case((BriefRow.status == "ready", 0), else_=1)
    rows = session.scalars(
        others.order_by(ready_first, BriefRow.updated.desc(), BriefRow.slug).limit(limit)
    )
    held.sort(key=lambda row: (row.status != "ready", row.slug))
    return held + list(rows), total + len(held)


def set_status(session: Session, slugs: Iterable[str], status: BriefStatus) -> list[BriefRow]:
    """Mark briefs ready (or back to draft); every slug must exist, or nothing changes."""
    rows = [get_brief_row(session, slug) for slug in slugs]
    for row in rows:
        _set_status(row, status)
    session.flush()
    return rows
