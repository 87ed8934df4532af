"""Editor pages for briefs: the list with warnings, one brief as the email shows it, upload,
and marking a brief ready (or back to draft).

An upload goes through the same all-or-nothing importer as ``newsletter briefs import``:
every problem of every file is listed as ``FILE:LINE: why`` next to the form, and nothing
is stored unless all files are good.
"""

from __future__ import annotations

import re
from functools import partial
from html import escape
from pathlib import PurePosixPath
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Form, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.responses import Response

from newsletter.briefs.document import Brief
from newsletter.briefs.importer import MAX_BRIEF_BYTES, parse_uploads, store_briefs
from newsletter.briefs.model import BriefRow
from newsletter.briefs.store import brief_from_row, get_brief_row, list_brief_rows, set_status
from newsletter.briefs.versions import Author
from newsletter.config import Settings
from newsletter.db import utcnow
from newsletter.errors import BriefFormatError, Problem, RenderError
from newsletter.render.compile import compile_variant
from newsletter.render.context import CompileContext
from newsletter.render.options import VariantOptions
from newsletter.render.variant import CompiledVariant
from newsletter.web.editor.auth import CurrentEditor, csrf_protect, editor_page, safe_next
from newsletter.web.editor.security import EMAIL_DOCUMENT_HEADERS
from newsletter.web.editor.site import editor_site, flash, render

router = APIRouter(
    include_in_schema=False, dependencies=[Depends(editor_page), Depends(csrf_protect)]
)
Slug = Annotated[str, Path(max_length=120)]
MAX_UPLOAD_FILES = 20
_UNSAFE_NAME = re.compile(r"[^\w.\- ]+")


def brief_email(brief: Brief, settings: Settings) -> CompiledVariant:
    """The brief alone, compiled as a digest of one (what a reader would see of it)."""
    context = CompileContext.from_settings(settings, utcnow().date(), variant="preview")
    return compile_variant([brief], VariantOptions(), context)


@router.get("/editor/briefs")
async def briefs_page(
    request: Request,
    status: Annotated[Literal["draft", "ready"] | None, Query()] = None,
) -> Response:
    return await _list(request, status=status)


async def _list(
    request: Request,
    *,
    status: Literal["draft", "ready"] | None = None,
    problems: list[Problem] | None = None,
    code: int = 200,
) -> Response:
    def load(session: Session) -> list[tuple[BriefRow, list[str]]]:
        rows = list_brief_rows(session, status=status)
        return [(row, brief_from_row(row).warnings()) for row in rows]

    briefs = await editor_site(request).run(load)
    context = {"briefs": briefs, "status": status, "problems": problems or []}
    return render(request, "briefs.html", context, status=code)


@router.post("/editor/briefs/upload")
async def upload_briefs(request: Request) -> Response:
    form = await request.form()
    files = [item for item in form.getlist("files") if isinstance(item, UploadFile)]
    files = [item for item in files if item.filename]
    if not files:
        problem = Problem("upload", None, "choose at least one brief file")
        return await _list(request, problems=[problem], code=422)
    if len(files) > MAX_UPLOAD_FILES:
        problem = Problem("upload", None, f"at most {MAX_UPLOAD_FILES} files at once")
        return await _list(request, problems=[problem], code=422)
    uploads = [
        (_file_name(item.filename or ""), await item.read(MAX_BRIEF_BYTES + 1)) for item in files
    ]
    for item in files:
        await item.close()
    try:  # YAML parsing is slow pure Python: never on the event loop
        parsed = await run_in_threadpool(parse_uploads, uploads)
    except BriefFormatError as exc:
        return await _list(request, problems=list(exc.problems), code=422)
    ready = form.get("ready") == "1"
    site = editor_site(request)
    editor: CurrentEditor = request.state.editor
    author = Author(editor.email, editor.id)
    imported = await run_in_threadpool(
        partial(store_briefs, site.database, parsed, mark_ready=ready, author=author)
    )
    for result in imported:
        verb = "Added" if result.created else "Updated"
        flash(request, f"{verb} {result.brief.slug} from {result.path}.")
    if len(imported) == 1:
        return RedirectResponse(f"/editor/briefs/{imported[0].brief.slug}", status_code=303)
    return RedirectResponse("/editor/briefs", status_code=303)


def _file_name(name: str) -> str:
    """An uploaded file's name as problems quote it: the last part, printable, not too long."""
    base = PurePosixPath(name.replace("\\", "/")).name
    return _UNSAFE_NAME.sub("_", base)[:120] or "upload"


@router.get("/editor/briefs/{slug}")
async def brief_page(request: Request, slug: Slug) -> Response:
    site = editor_site(request)

    def load(session: Session) -> tuple[BriefRow, Brief]:
        row = get_brief_row(session, slug)
        return row, brief_from_row(row)

    row, brief = await site.run(load)
    compiled: CompiledVariant | None = None
    error = None
    try:
        compiled = await run_in_threadpool(brief_email, brief, site.settings)
    except RenderError as exc:
        error = str(exc)
    context = {
        "row": row,
        "brief": brief,
        "warnings": brief.warnings(),
        "email": compiled,
        "render_error": error,
    }
    return render(request, "brief.html", context)


@router.get("/editor/briefs/{slug}/email")
async def brief_email_document(request: Request, slug: Slug) -> Response:
    """The brief's email, for the sandboxed frame on its page (never a page of its own)."""
    site = editor_site(request)
    brief = await site.run(lambda session: brief_from_row(get_brief_row(session, slug)))
    try:
        email = await run_in_threadpool(brief_email, brief, site.settings)
    except RenderError as exc:
        return email_error_document(str(exc))
    return HTMLResponse(email.typical.html, headers=EMAIL_DOCUMENT_HEADERS)


def email_error_document(message: str) -> Response:
    body = f"<!doctype html><title>Cannot compile</title><p>{escape(message)}</p>"
    return HTMLResponse(body, status_code=422, headers=EMAIL_DOCUMENT_HEADERS)


@router.post("/editor/briefs/{slug}/status")
async def brief_status(
    request: Request,
    slug: Slug,
    status: Annotated[Literal["draft", "ready"], Form()],
    back: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    await editor_site(request).run(lambda session: set_status(session, [slug], status))
    flash(request, f"{slug} is {'ready' if status == 'ready' else 'a draft again'}.")
    target = safe_next(back) if back else f"/editor/briefs/{slug}"
    return RedirectResponse(target, status_code=303)
