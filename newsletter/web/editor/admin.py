"""Admin-only pages: editor accounts (add, disable, enable), API keys (make, revoke) and the
settings in effect.

A new API key is shown once, in the answer to the form that made it (never through a flash:
those travel in the session cookie).

Settings are read-only here (they come from the environment, see
:mod:`newsletter.config`); secrets show only whether they are set, and URLs their password
as ``***`` (:func:`newsletter.config.shown`, as ``newsletter config show``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse
from sqlalchemy.orm import Session
from starlette.responses import Response

from newsletter.apikeys.keys import SCOPE_MEANINGS, create_key, list_keys, revoke_key, shown_prefix
from newsletter.apikeys.model import ApiKey
from newsletter.config import Settings, env_names, shown
from newsletter.editors.accounts import create_editor, list_editors, set_active
from newsletter.editors.model import ROLES, Editor
from newsletter.errors import NewsletterError
from newsletter.web.editor.auth import CurrentEditor, admin_page, csrf_protect
from newsletter.web.editor.site import editor_site, flash, render

router = APIRouter(
    include_in_schema=False, dependencies=[Depends(admin_page), Depends(csrf_protect)]
)
EDITORS = "/editor/admin/editors"
API_KEYS = "/editor/admin/apikeys"
log = logging.getLogger("newsletter.web.editor")


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


@dataclass(frozen=True)
class KeyRow:
    name: str
    shown_prefix: str
    scopes: list[str]
    rate_limit: int
    created_by: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None

    @classmethod
    def of(cls, key: ApiKey) -> KeyRow:
        return cls(
            key.name,
            shown_prefix(key),
            list(key.scopes),
            key.rate_limit,
            key.created_by,
            key.created_at,
            key.last_used_at,
            key.revoked_at,
        )


async def _keys_page(
    request: Request,
    *,
    error: str | None = None,
    values: dict[str, Any] | None = None,
    new_key: dict[str, str] | None = None,
) -> Response:
    site = editor_site(request)
    keys = await site.run(lambda session: [KeyRow.of(key) for key in list_keys(session)])
    context = {
        "keys": keys,
        "scopes": list(SCOPE_MEANINGS.items()),
        "error": error,
        "new_key": new_key,
        "values": values
        or {"name": "", "rate_limit": site.settings.api_key_rate_limit, "scopes": []},
    }
    return render(request, "apikeys.html", context, status=422 if error else 200)


@router.get(API_KEYS)
async def api_keys_page(request: Request) -> Response:
    return await _keys_page(request)


@router.post(API_KEYS)
async def make_api_key(
    request: Request,
    editor: Annotated[CurrentEditor, Depends(admin_page)],
    name: Annotated[str, Form(max_length=200)] = "",
    rate_limit: Annotated[str, Form(max_length=20)] = "",
    scopes: Annotated[list[str] | None, Form()] = None,
) -> Response:
    chosen = [scope[:60] for scope in (scopes or [])[:20]]
    values = {"name": name, "rate_limit": rate_limit, "scopes": chosen}
    try:
        limit = int(rate_limit)
    except ValueError:
        return await _keys_page(
            request, error="rate_limit: must be a whole number (0: no limit)", values=values
        )

    def make(session: Session) -> dict[str, str]:
        made = create_key(session, name, chosen, created_by=editor.email, rate_limit=limit)
        return {"name": made.row.name, "secret": made.secret}

    try:
        new_key = await editor_site(request).run(make)
    except NewsletterError as exc:
        return await _keys_page(request, error=str(exc), values=values)
    log.info("API key %r made by %s", new_key["name"], editor.email)
    return await _keys_page(request, new_key=new_key)


@router.post(f"{API_KEYS}/revoke")
async def revoke_api_key(
    request: Request,
    editor: Annotated[CurrentEditor, Depends(admin_page)],
    prefix: Annotated[str, Form(max_length=60)],
) -> Response:
    try:
        key = await editor_site(request).run(lambda session: revoke_key(session, prefix).name)
    except NewsletterError as exc:
        flash(request, str(exc), "error")
    else:
        log.info("API key %r revoked by %s", key, editor.email)
        flash(request, f"The API key {key!r} is revoked: requests with it are refused.")
    return RedirectResponse(API_KEYS, status_code=303)


@router.get("/editor/admin/settings")
async def settings_page(request: Request) -> Response:
    settings = editor_site(request).settings
    rows = [
        (name, " or ".join(env_names(name, field)), shown(getattr(settings, name)), field)
        for name, field in Settings.model_fields.items()
    ]
    context = {"rows": [(n, env, value, f.description or "") for n, env, value, f in rows]}
    return render(request, "settings.html", context)
