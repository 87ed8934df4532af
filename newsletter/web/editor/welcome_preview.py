"""Editor pages to preview a welcome step (HTML at desktop and phone widths, plain text) and
to send a test of it to the logged-in editor's own address.

The frames and the email document are the campaign preview's
(:mod:`newsletter.web.editor.preview`): the same widths, the same sandboxed document with
its own strict policy. A test goes only to the editor who asks (their account's address),
so this form cannot be used to mail anyone else; it needs the session's CSRF token.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from campaigns.proofs import parse_test_addresses
from campaigns.welcome_model import WelcomeStep
from campaigns.welcome_preview import send_step_test, step_sample
from campaigns.welcome_steps import get_step
from newsletter.errors import NewsletterError, RenderError
from newsletter.render.variant import FilledEmail
from newsletter.web.editor.auth import CurrentEditor, csrf_protect, editor_page
from newsletter.web.editor.briefs import email_error_document
from newsletter.web.editor.preview import PREVIEW_WIDTHS
from newsletter.web.editor.security import EMAIL_DOCUMENT_HEADERS
from newsletter.web.editor.site import editor_site, flash, render
from newsletter.web.editor.welcome import WELCOME, StepId

router = APIRouter(
    include_in_schema=False, dependencies=[Depends(editor_page), Depends(csrf_protect)]
)
Editor = Annotated[CurrentEditor, Depends(editor_page)]


def _preview_url(step_id: int) -> str:
    return f"{WELCOME}/{step_id}/preview"


@router.get(f"{WELCOME}/{{step_id}}/preview")
async def step_preview_page(request: Request, step_id: StepId, editor: Editor) -> Response:
    site = editor_site(request)

    def load(session: Session) -> tuple[WelcomeStep, FilledEmail | None, str | None]:
        step = get_step(session, step_id)
        try:
            return step, step_sample(session, site.settings, step_id), None
        except RenderError as exc:
            return step, None, str(exc)

    step, copy, error = await site.run(load)
    context = {
        "step": step,
        "copy": copy,
        "error": error,
        "widths": PREVIEW_WIDTHS,
        "frame_src": f"{_preview_url(step_id)}/email",
        "provider": site.settings.provider,
        "test_to": editor.email,
    }
    return render(request, "welcome_preview.html", context)


@router.get(f"{WELCOME}/{{step_id}}/preview/email")
async def step_preview_email(request: Request, step_id: StepId) -> Response:
    """The step's HTML for the preview frames (sample values, untracked)."""
    site = editor_site(request)
    try:
        copy = await site.run(lambda session: step_sample(session, site.settings, step_id))
    except RenderError as exc:
        return email_error_document(str(exc))
    return HTMLResponse(copy.html, headers=EMAIL_DOCUMENT_HEADERS)


@router.post(f"{WELCOME}/{{step_id}}/test")
async def send_step_test_post(request: Request, step_id: StepId, editor: Editor) -> Response:
    """Send the step as a test to the logged-in editor's address (through the provider)."""
    site = editor_site(request)
    back = _preview_url(step_id)
    await site.run(lambda session: get_step(session, step_id))  # 404 for no such step
    try:
        addresses = parse_test_addresses(editor.email, 1, field="your account's address")
        result = await run_in_threadpool(
            send_step_test, site.database, site.settings, step_id, addresses
        )
    except NewsletterError as exc:  # an unusable address, a step that cannot compile, the provider
        flash(request, f"Test not sent: {exc}", "error")
        return RedirectResponse(back, status_code=303)
    if result.sent:
        flash(request, f"Test sent through {result.provider} to {', '.join(result.sent)}.")
    for address, reason in result.failed:
        flash(request, f"Test to {address} refused: {reason}", "error")
    return RedirectResponse(back, status_code=303)
