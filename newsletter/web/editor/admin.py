"""Admin-only pages: editor accounts (add, disable, enable) and the settings in effect.

Settings are read-only here (they come from the environment, see
:mod:`newsletter.config`); secrets show only whether they are set, and URLs their password
as ``***`` (:func:`newsletter.config.shown`, as ``newsletter config show``).
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse
from sqlalchemy.orm import Session
from starlette.responses import Response

from newsletter.config import Settings, env_names, shown
from newsletter.editors.accounts import create_editor, list_editors, set_active
from newsletter.editors.model import ROLES, Editor
from newsletter.errors import NewsletterError
from newsletter.web.editor.auth import admin_page, csrf_protect
from newsletter.web.editor.site import editor_site, flash, render

router = APIRouter(
    include_in_schema=False, dependencies=[Depends(admin_page), Depends(csrf_protect)]
)
EDITORS = "/editor/admin/editors"


async def _editors_page(
    request: Request, *, error: str | None = None, values: dict[str, str] | None = None
) -> Response:
    editors: list[Editor] = await editor_site(request).run(list_editors)
    context = {
        "editors": editors,
        "roles": ROLES,
        "error": error,
        "values": values or {"email": "", "role": "editor"},
    }
    return render(request, "editors.html", context, status=422 if error else 200)


@router.get(EDITORS)
async def editors_page(request: Request) -> Response:
    return await _editors_page(request)


@router.post(EDITORS)
async def add_editor(
    request: Request,
    email: Annotated[str, Form(max_length=320)] = "",
    role: Annotated[Literal["editor", "admin"], Form()] = "editor",
    password: Annotated[str, Form(max_length=1024)] = "",
    password_again: Annotated[str, Form(max_length=1024)] = "",
) -> Response:
    values = {"email": email, "role": role}
    if password != password_again:
        return await _editors_page(request, error="The two passwords differ.", values=values)

    def add(session: Session) -> str:
        return create_editor(session, email, password, role).email

    try:
        added = await editor_site(request).run(add)
    except NewsletterError as exc:
        return await _editors_page(request, error=str(exc), values=values)
    flash(request, f"Added {role} {added}.")
    return RedirectResponse(EDITORS, status_code=303)


@router.post(f"{EDITORS}/active")
async def change_active(
    request: Request,
    email: Annotated[str, Form(max_length=320)],
    active: Annotated[Literal["0", "1"], Form()],
) -> Response:
    def change(session: Session) -> str:
        return set_active(session, email, active == "1").email

    try:
        changed = await editor_site(request).run(change)
    except NewsletterError as exc:
        flash(request, str(exc), "error")
    else:
        flash(request, f"{changed} is {'enabled' if active == '1' else 'disabled'}.")
    return RedirectResponse(EDITORS, status_code=303)


@router.get("/editor/admin/settings")
async def settings_page(request: Request) -> Response:
    settings = editor_site(request).settings
    rows = [
        (name, " or ".join(env_names(name, field)), shown(getattr(settings, name)), field)
        for name, field in Settings.model_fields.items()
    ]
    context = {"rows": [(n, env, value, f.description or "") for n, env, value, f in rows]}
    return render(request, "settings.html", context)
