"""A brief's version history: every save that changes its content is kept with who saved it
and which fields changed, and any version can be compared with the one before or restored.

A version holds the brief's structured document (:func:`version_document`: the canonical
mapping of :mod:`newsletter.briefs.export` without ``status``, which is workflow, not
content: restoring an old text never marks a brief ready or withdraws it). Versions are
written by :func:`newsletter.briefs.store.save_brief`, so every path that stores a brief (the
edit form, an upload, ``newsletter briefs import``, a restore) records one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from newsletter.briefs.document import Brief
from newsletter.briefs.export import brief_to_data
from newsletter.briefs.model import BriefRow, BriefVersionRow
from newsletter.briefs.validation import Loc, describe_loc
from newsletter.errors import ConflictError, NotFoundError

SUMMARY_MAX = 1000
_LISTS = ("facts", "sources", "narratives")


@dataclass(frozen=True)
class Author:
    """Who saved a version: an editor account, or a named tool (``editor_id`` is None)."""

    name: str
    editor_id: int | None = None


COMMAND_LINE = Author("command line")


@dataclass(frozen=True)
class Change:
    """One field that differs between two versions (``before``/``after`` None: added/removed)."""

    loc: Loc
    before: Any
    after: Any

    @property
    def where(self) -> str:
        words = describe_loc(self.loc)
        if self.before is None and len(self.loc) == 2 and self.loc[0] in _LISTS:
            return f"{words} added"
        if self.after is None and len(self.loc) == 2 and self.loc[0] in _LISTS:
            return f"{words} removed"
        return words

    @property
    def before_text(self) -> str:
        return show_value(self.before)

    @property
    def after_text(self) -> str:
        return show_value(self.after)


def version_document(brief: Brief) -> dict[str, Any]:
    """What a version keeps of a brief: its canonical mapping without the status."""
    data = brief_to_data(brief)
    data.pop("status", None)
    return data


def brief_of_version(document: dict[str, Any]) -> Brief:
    """The brief a stored version holds (no status: saving it keeps the brief's own)."""
    return Brief.model_validate(document)


def diff_documents(before: dict[str, Any], after: dict[str, Any]) -> list[Change]:
    """Field by field, what changed from ``before`` to ``after`` (list rows by position)."""
    changes: list[Change] = []
    order = {name: index for index, name in enumerate(Brief.model_fields)}
    keys = sorted(dict.fromkeys([*before, *after]), key=lambda k: order.get(k, len(order)))
    for key in keys:
        old, new = before.get(key), after.get(key)
        if key in _LISTS:
            changes += _diff_rows(key, old or [], new or [])
        elif old != new:
            changes.append(Change((key,), old, new))
    return changes


def _diff_rows(key: str, old: list[dict[str, Any]], new: list[dict[str, Any]]) -> list[Change]:
    changes: list[Change] = []
    for index in range(max(len(old), len(new))):
        if index >= len(old):
            changes.append(Change((key, index), None, new[index]))
        elif index >= len(new):
            changes.append(Change((key, index), old[index], None))
        else:
            fields = dict.fromkeys([*old[index], *new[index]])
            changes += [
                Change((key, index, field), old[index].get(field), new[index].get(field))
                for field in fields
                if old[index].get(field) != new[index].get(field)
            ]
    return changes


def summarize(changes: Sequence[Change]) -> str:
    """``title, fact 2 text, source 3 added``: which fields changed, in one short line."""
    text = ", ".join(dict.fromkeys(change.where for change in changes)) or "no change"
    return text if len(text) <= SUMMARY_MAX else text[: SUMMARY_MAX - 1] + "…"


def show_value(value: Any) -> str:
    """A value of a brief's document as an editor reads it in a diff."""
    if value is None or value == []:
        return "—"
    if isinstance(value, list):
        if all(isinstance(item, int) for item in value):
            return ", ".join(f"[{item}]" for item in value)
        return "\n\n".join(show_value(item) for item in value)
    if isinstance(value, dict):
        return _show_row(value)
    return str(value)


def _show_row(row: dict[str, Any]) -> str:
    if "text" in row:  # a fact
        return str(row["text"]) + "".join(f"[{n}]" for n in row.get("citations", []))
    if "number" in row:  # a source
        return " ".join(
            str(p) for p in (f"[{row['number']}]", row.get("label"), row.get("url")) if p
        )
    head = f"{row.get('label', '')} ({row.get('kind', 'perspective')})"
    return "\n\n".join([head, *row.get("paragraphs", [])])


def latest_version(session: Session, brief_id: int) -> BriefVersionRow | None:
    return session.scalar(
        select(BriefVersionRow)
        .where(BriefVersionRow.brief_id == brief_id)
        .order_by(BriefVersionRow.number.desc())
        .limit(1)
    )


def latest_number(session: Session, brief_id: int) -> int:
    """The number of the brief's newest version (0 when it has none)."""
    found = session.scalar(
        select(func.max(BriefVersionRow.number)).where(BriefVersionRow.brief_id == brief_id)
    )
    return int(found or 0)


def record_version(
    session: Session,
    row: BriefRow,
    brief: Brief,
    author: Author,
    *,
    note: str = "",
    base: int | None = None,
) -> BriefVersionRow | None:
    """Add a version for ``brief`` as just stored in ``row``; None when its content is the
    same as the newest version's (a re-import of an unchanged file adds nothing).

    ``base``: the version the save started from (a form's, a restore's); anything newer
    refuses it. Either way the new version's number is the unique key's guard: of two saves
    numbering the same version (SQLite has no row lock to order them), the second fails,
    with :class:`~newsletter.errors.ConflictError`."""
    document = version_document(brief)
    previous = latest_version(session, row.id)
    number = (previous.number if previous else 0) + 1
    if base is not None and number != base + 1:
        raise ConflictError(f"the brief is at version {number - 1} now, not {base}")
    if previous is not None and previous.document == document:
        return None
    if previous is None:
        summary = "first version"
    else:
        summary = summarize(diff_documents(previous.document, document))
    if note:
        summary = f"{note}: {summary}"
    version = BriefVersionRow(
        brief_id=row.id,
        number=number,
        document=document,
        editor_id=author.editor_id,
        editor_name=author.name[:320],
        summary=summary[:SUMMARY_MAX],
    )
    session.add(version)
    try:
        session.flush()
    except IntegrityError as exc:
        raise ConflictError(f"version {number} was saved meanwhile by another save") from exc
    return version


def list_versions(session: Session, brief_id: int) -> list[BriefVersionRow]:
    """The brief's versions, newest first."""
    return list(
        session.scalars(
            select(BriefVersionRow)
            .where(BriefVersionRow.brief_id == brief_id)
            .order_by(BriefVersionRow.number.desc())
        )
    )


def get_version(session: Session, brief_id: int, number: int) -> BriefVersionRow:
    version = session.scalar(
        select(BriefVersionRow).where(
            BriefVersionRow.brief_id == brief_id, BriefVersionRow.number == number
        )
    )
    if version is None:
        raise NotFoundError(f"this brief has no version {number}")
    return version


def changes_of(session: Session, version: BriefVersionRow) -> list[Change]:
    """What ``version`` changed from the one before it (everything, for the first)."""
    before = session.scalar(
        select(BriefVersionRow.document)
        .where(
            BriefVersionRow.brief_id == version.brief_id,
            BriefVersionRow.number < version.number,
        )
        .order_by(BriefVersionRow.number.desc())
        .limit(1)
    )
    return diff_documents(before or {}, version.document)
