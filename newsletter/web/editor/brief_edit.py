"""Editor pages that write a brief: the edit and new-brief forms, their live preview, and the
brief's version history (what each save changed, and restoring an old version).

The form is plain HTML: "Add a fact" and the like post it back with one more empty row, and
"Preview" posts it into the page's sandboxed frame (``/editor/briefs/preview`` answers with
the email document under :data:`~newsletter.web.editor.security.EMAIL_DOCUMENT_HEADERS`, so
the brief's text is escaped by the email templates and nothing in it can run). The script
adds rows without a round trip and previews as one types. Saving validates with the
importer's own rules (:mod:`newsletter.web.editor.brief_form`) and stores through
:func:`~newsletter.briefs.store.save_brief` in one transaction, so a save is whole or not at
all, and it records a version. A form remembers the version it was opened at: saving over
a newer version someone else saved meanwhile is refused, with what was typed kept.
"""

from __future__ import annotations

from datetime import datetime
from html import escape
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import ValidationError
from sqlalchemy import Select, select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from newsletter.briefs.document import Brief
from newsletter.briefs.model import BriefRow, BriefVersionRow
from newsletter.briefs.store import brief_from_row, get_brief_row, save_brief
from newsletter.briefs.versions import (
    Author,
    Change,
    brief_of_version,
    changes_of,
    get_version,
    latest_number,
    list_versions,
)
from newsletter.errors import ConflictError, RenderError
from newsletter.web.editor.auth import CurrentEditor, csrf_protect, editor_page
from newsletter.web.editor.brief_form import (
    ROW_KINDS,
    BriefForm,
    FieldErrors,
    form_from_brief,
    form_from_post,
    form_number,
    slug_for,
    validate_form,
)
from newsletter.web.editor.briefs import brief_email, email_error_document
from newsletter.web.editor.security import EMAIL_DOCUMENT_HEADERS
from newsletter.web.editor.site import editor_site, flash, render

router = APIRouter(
    include_in_schema=False, dependencies=[Depends(editor_page), Depends(csrf_protect)]
)
Slug = Annotated[str, Path(max_length=120)]
VersionNumber = Annotated[int, Path(ge=1, le=1_000_000)]
NEW_PATH = "/editor/briefs/new"
PREVIEW_PATH = "/editor/briefs/preview"
_ADD = {f"add-{kind}": kind for kind in ROW_KINDS}


def _author(request: Request) -> Author:
    editor: CurrentEditor = request.state.editor
    return Author(editor.email, editor.id)


async def _posted(request: Request) -> tuple[BriefForm, dict[str, str]]:
    form = await request.form()
    values = {name: value for name, value in form.multi_items() if isinstance(value, str)}
    return form_from_post(values), values


def _edit_page(
    request: Request,
    form: BriefForm,
    *,
    row: BriefRow | None,
    base_version: int = 0,
    errors: FieldErrors | None = None,
    notice: str = "",
    status: int = 200,
    typed: bool = True,
) -> Response:
    """The form page; ``typed``: it shows what was posted (not what is stored), so the
    script previews it at once."""
    context = {
        "typed": typed,
        "row": row,
        "form": form.for_editing(),
        "errors": errors or {},
        "base_version": base_version,
        "notice": notice,
        "action": f"/editor/briefs/{row.slug}/edit" if row else NEW_PATH,
    }
    return render(request, "brief_edit.html", context, status=status)


@router.get(NEW_PATH)
async def new_brief_page(request: Request) -> Response:
    today = datetime.now(editor_site(request).zone).date()
    form = BriefForm(updated=today.isoformat())
    return _edit_page(request, form.with_blank_row("facts"), row=None, typed=False)


@router.post(NEW_PATH)
async def new_brief_post(request: Request) -> Response:
    form, values = await _posted(request)
    added = _ADD.get(values.get("action", ""))
    if added:
        return _edit_page(request, form.with_blank_row(added), row=None)
    slug = slug_for(form)
    result = await run_in_threadpool(validate_form, form, slug=slug)
    if isinstance(result, dict):
        return _edit_page(request, form, row=None, errors=result, status=422)
    author = _author(request)

    def create(session: Session) -> None:
        if session.scalar(_exists(slug)) is not None:
            raise ConflictError(f"a brief with the slug {slug!r} exists already")
        save_brief(session, result, source_name=None, author=author, base_version=0)

    try:
        await editor_site(request).run(create)  # save_brief: a slug taken meanwhile too
    except ConflictError as exc:
        errors = {"slug": [f"{exc}: choose another slug, or edit that brief"]}
        return _edit_page(request, form, row=None, errors=errors, status=409)
    flash(request, f"Added {slug} (a draft).")
    return RedirectResponse(f"/editor/briefs/{slug}", status_code=303)


def _exists(slug: str) -> Select[int]:
    return select(BriefRow.id).where(BriefRow.slug == slug)


@router.get("/editor/briefs/{slug}/edit")
async def edit_brief_page(request: Request, slug: Slug) -> Response:
    def load(session: Session) -> tuple[BriefRow, Brief, int]:
        row = get_brief_row(session, slug)
        return row, brief_from_row(row), latest_number(session, row.id)

    row, brief, number = await editor_site(request).run(load)
    return _edit_page(request, form_from_brief(brief), row=row, base_version=number, typed=False)


@router.post("/editor/briefs/{slug}/edit")
async def edit_brief_post(request: Request, slug: Slug) -> Response:
    site = editor_site(request)
    row = await site.run(lambda session: get_brief_row(session, slug))
    form, values = await _posted(request)
    base = _int(values.get("base_version", ""))
    added = _ADD.get(values.get("action", ""))
    if added:
        return _edit_page(request, form.with_blank_row(added), row=row, base_version=base)
    result = await run_in_threadpool(validate_form, form, slug=slug)
    if isinstance(result, dict):
        return _edit_page(request, form, row=row, base_version=base, errors=result, status=422)
    author = _author(request)

    def store(session: Session) -> int:
        stored = get_brief_row(session, slug)
        session.refresh(stored, with_for_update=True)
        current = latest_number(session, stored.id)
        if current != base:
            raise ConflictError(
                f"version {current} was saved after you opened this form (at version {base})"
            )
        save_brief(session, result, source_name=None, author=author, base_version=base)
        return latest_number(session, stored.id)

    try:
        number = await site.run(store)
    except ConflictError as exc:
        notice = (
            f"Not saved: {exc}. Your text is below; open the history to see what changed, "
            "then edit the brief again."
        )
        return _edit_page(request, form, row=row, base_version=base, notice=notice, status=409)
    if number == base:
        flash(request, "Nothing changed: no new version was saved.")
    else:
        flash(request, f"Saved {slug} as version {number}.")
    return RedirectResponse(f"/editor/briefs/{slug}", status_code=303)


def _int(value: str) -> int:
    number = form_number(value)
    return -1 if number is None else number


@router.post(PREVIEW_PATH)
async def preview_brief(request: Request) -> Response:
    """The posted form's brief as the email shows it, for the edit page's frame (a document
    under the email's own strict policy); problems are listed in the frame instead."""
    form, _ = await _posted(request)
    slug = slug_for(form) or "preview"
    result = await run_in_threadpool(validate_form, form, slug=slug)
    if isinstance(result, dict):
        return _problems_document(result)
    try:
        email = await run_in_threadpool(brief_email, result, editor_site(request).settings)
    except RenderError as exc:
        return email_error_document(str(exc))
    return HTMLResponse(email.typical.html, headers=EMAIL_DOCUMENT_HEADERS)


def _problems_document(errors: FieldErrors) -> Response:
    items = "".join(
        f"<li>{escape(message)}</li>" for messages in errors.values() for message in messages
    )
    body = (
        "<!doctype html><title>Not valid yet</title>"
        "<p>This brief cannot be shown yet. Fix these and preview again:</p>"
        f"<ul>{items}</ul>"
    )
    return HTMLResponse(body, status_code=422, headers=EMAIL_DOCUMENT_HEADERS)


# --- history -------------------------------------------------------------------------------


@router.get("/editor/briefs/{slug}/history")
async def history_page(
    request: Request,
    slug: Slug,
    version: Annotated[int | None, Query(ge=1, le=1_000_000)] = None,
) -> Response:
    def load(
        session: Session,
    ) -> tuple[BriefRow, list[BriefVersionRow], BriefVersionRow | None, list[Change]]:
        row = get_brief_row(session, slug)
        versions = list_versions(session, row.id)
        if not versions:
            return row, versions, None, []
        shown = get_version(session, row.id, version) if version else versions[0]
        return row, versions, shown, changes_of(session, shown)

    row, versions, shown, changes = await editor_site(request).run(load)
    context = {
        "row": row,
        "versions": versions,
        "shown": shown,
        "changes": changes,
        "latest": versions[0].number if versions else 0,
    }
    return render(request, "brief_history.html", context)


@router.post("/editor/briefs/{slug}/history/{number}/restore")
async def restore_version(request: Request, slug: Slug, number: VersionNumber) -> Response:
    """Restore version ``number`` as a new version, over the version the history page showed
    as the newest (its ``base_version``; without one, over whatever is newest now)."""
    author = _author(request)
    seen = (await request.form()).get("base_version")

    def restore(session: Session) -> tuple[int, int]:
        row = get_brief_row(session, slug)
        session.refresh(row, with_for_update=True)
        brief = brief_of_version(get_version(session, row.id, number).document)
        before = latest_number(session, row.id)
        base = _int(seen) if isinstance(seen, str) else before
        note = f"restored version {number}"
        save_brief(session, brief, source_name=None, author=author, note=note, base_version=base)
        return before, latest_number(session, row.id)

    history = f"/editor/briefs/{slug}/history"
    try:
        before, latest = await editor_site(request).run(restore)
    except ValidationError as exc:
        reason = exc.errors()[0]["msg"]
        flash(request, f"Version {number} no longer passes the brief rules: {reason}", "error")
        return RedirectResponse(history, status_code=303)
    except ConflictError as exc:
        flash(request, f"Not restored: {exc}. Look at the history, then restore again.", "error")
        return RedirectResponse(history, status_code=303)
    if latest == before:
        flash(request, f"Version {number} is what the brief holds already: nothing to restore.")
    else:
        flash(request, f"Restored version {number} of {slug} as version {latest}.")
    return RedirectResponse(f"{history}?version={latest}", status_code=303)
