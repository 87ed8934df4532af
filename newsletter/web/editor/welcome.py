"""Editor pages for the welcome series: its steps with their readers and the report of each
step version's campaign, a form to add or edit a step, and disabling or enabling one.

Everything the editor writes is stored as text and printed escaped (the email escapes it
too); the forms carry the session's CSRF token like every other editor form.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import RedirectResponse
from starlette.responses import Response

from campaigns.welcome_model import BODY_MAX, DELAY_MAX, SUBJECT_MAX
from campaigns.welcome_steps import (
    DEFAULT_BODY,
    DEFAULT_SUBJECT,
    StepText,
    add_step,
    edit_step,
    get_step,
    set_enabled,
    step_summaries,
)
from newsletter.errors import InvalidInput
from newsletter.web.editor.auth import csrf_protect, editor_page
from newsletter.web.editor.site import editor_site, flash, render

router = APIRouter(
    include_in_schema=False, dependencies=[Depends(editor_page), Depends(csrf_protect)]
)
WELCOME = "/editor/welcome"
StepId = Annotated[int, Path(ge=1, le=2_147_483_647)]
_LIMITS = {"subject_max": SUBJECT_MAX, "body_max": BODY_MAX, "delay_max": DELAY_MAX}


async def _posted(request: Request) -> dict[str, str]:
    """The step form's fields (bounded: a few short fields and one body)."""
    form = await request.form(max_fields=10, max_files=0)
    return {k: v for k in ("delay_days", "subject", "body") if isinstance(v := form.get(k), str)}


def _text(values: dict[str, str]) -> StepText:
    raw = values.get("delay_days", "").strip()
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 5):  # not "²": int() refuses
        raise InvalidInput("delay_days", f"must be a whole number 0–{DELAY_MAX}")
    return StepText(int(raw), values.get("subject", ""), values.get("body", ""))


def _form(step_id: int | None, values: dict[str, str], error: InvalidInput | None) -> Any:
    return {"step_id": step_id, "values": values, "error": error, **_LIMITS}


@router.get(WELCOME)
async def welcome_page(request: Request) -> Response:
    summaries = await editor_site(request).read(step_summaries)
    return render(request, "welcome.html", {"summaries": summaries})


@router.get(f"{WELCOME}/new")
async def new_step_page(request: Request) -> Response:
    values = {"delay_days": "0", "subject": DEFAULT_SUBJECT, "body": DEFAULT_BODY}
    return render(request, "welcome_form.html", _form(None, values, None))


@router.get(f"{WELCOME}/{{step_id}}/edit")
async def edit_step_page(request: Request, step_id: StepId) -> Response:
    step = await editor_site(request).run(lambda session: get_step(session, step_id))
    values = {"delay_days": str(step.delay_days), "subject": step.subject, "body": step.body}
    return render(request, "welcome_form.html", _form(step_id, values, None))


@router.post(f"{WELCOME}/new")
async def new_step(request: Request) -> Response:
    return await _submit(request, None)


@router.post(f"{WELCOME}/{{step_id}}/edit")
async def change_step(request: Request, step_id: StepId) -> Response:
    return await _submit(request, step_id)


async def _submit(request: Request, step_id: int | None) -> Response:
    values = await _posted(request)
    try:
        text = _text(values)
        if step_id is None:
            await editor_site(request).run(lambda session: add_step(session, text))
        else:
            await editor_site(request).run(lambda session: edit_step(session, step_id, text))
    except InvalidInput as exc:
        return render(request, "welcome_form.html", _form(step_id, values, exc), status=422)
    flash(request, "The welcome step is saved.")
    return RedirectResponse(WELCOME, status_code=303)


@router.post(f"{WELCOME}/{{step_id}}/disable")
async def disable_step(request: Request, step_id: StepId) -> Response:
    await editor_site(request).run(lambda session: set_enabled(session, step_id, False))
    flash(request, "The step is disabled: nobody new is queued it.")
    return RedirectResponse(WELCOME, status_code=303)


@router.post(f"{WELCOME}/{{step_id}}/enable")
async def enable_step(request: Request, step_id: StepId) -> Response:
    await editor_site(request).run(lambda session: set_enabled(session, step_id, True))
    flash(request, "The step is enabled again.")
    return RedirectResponse(WELCOME, status_code=303)
