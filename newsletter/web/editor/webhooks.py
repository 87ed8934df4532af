"""The admin's webhooks page: register endpoints (the secret shown once), enable, disable,
delete, send a test event, and the delivery log with "try again now".

A test event and a retry are attempted at once, in the thread pool (the request waits at
most ``NEWSLETTER_WEBHOOK_TIMEOUT_SECONDS``), so the admin sees the answer in the log.
"""

from __future__ import annotations

import logging
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from newsletter.errors import NewsletterError
from newsletter.web.editor.auth import CurrentEditor, admin_page, csrf_protect
from newsletter.web.editor.site import EditorSite, editor_site, flash, render
from newsletter.webhooks.endpoints import (
    MAX_ROW_ID,
    add_endpoint,
    delivery_log,
    list_endpoints,
    queue_test,
    remove_endpoint,
    retry_now,
    set_enabled,
)
from newsletter.webhooks.model import EVENT_TYPES
from newsletter.webhooks.sender import SendReport, WebhookSender

router = APIRouter(
    include_in_schema=False, dependencies=[Depends(admin_page), Depends(csrf_protect)]
)
PAGE = "/editor/admin/webhooks"
RowId = Annotated[int, Form(ge=1, le=MAX_ROW_ID)]  # beyond: PostgreSQL's integer overflows
LOG_ROWS = 50
log = logging.getLogger("newsletter.web.editor")


async def _page(
    request: Request,
    *,
    error: str | None = None,
    values: dict[str, Any] | None = None,
    new_secret: dict[str, Any] | None = None,
) -> Response:
    def read(session: Session) -> dict[str, Any]:
        endpoints = [
            {"id": e.id, "url": e.url, "events": list(e.events), "enabled": e.enabled,
             "created_by": e.created_by, "created_at": e.created_at}
            for e in list_endpoints(session)
        ]  # fmt: skip
        return {"endpoints": endpoints, "messages": delivery_log(session, limit=LOG_ROWS)}

    context = await editor_site(request).run(read)
    context |= {
        "event_types": EVENT_TYPES,
        "error": error,
        "values": values or {"url": "", "events": []},
        "new_secret": new_secret,
    }
    return render(request, "webhooks.html", context, status=422 if error else 200)


@router.get(PAGE)
async def webhooks_page(request: Request) -> Response:
    return await _page(request)


@router.post(PAGE)
async def add_webhook(
    request: Request,
    editor: Annotated[CurrentEditor, Depends(admin_page)],
    url: Annotated[str, Form(max_length=2000)] = "",
    events: Annotated[list[str] | None, Form()] = None,
) -> Response:
    chosen = [event[:60] for event in (events or [])[:20]]
    values = {"url": url, "events": chosen}
    site = editor_site(request)
    allow_private = site.settings.webhooks_allow_private_addresses

    def add(session: Session) -> dict[str, Any]:
        made = add_endpoint(
            session, url, chosen, created_by=editor.email, allow_private=allow_private
        )
        return {"id": made.row.id, "url": made.row.url, "secret": made.secret}

    try:
        # resolving the host (the SSRF check) blocks: it runs in the thread pool with the rest
        new_secret = await site.run(add)
    except NewsletterError as exc:
        return await _page(request, error=str(exc), values=values)
    log.info("webhook endpoint %s added by %s", new_secret["id"], editor.email)
    return await _page(request, new_secret=new_secret)


@router.post(f"{PAGE}/enabled")
async def change_enabled(
    request: Request,
    endpoint_id: RowId,
    enabled: Annotated[Literal["0", "1"], Form()],
) -> Response:
    on = enabled == "1"
    try:
        await editor_site(request).run(lambda s: set_enabled(s, endpoint_id, on))
    except NewsletterError as exc:
        flash(request, str(exc), "error")
    else:
        flash(request, f"Endpoint {endpoint_id} is {'enabled' if on else 'disabled'}.")
    return RedirectResponse(PAGE, status_code=303)


@router.post(f"{PAGE}/delete")
async def delete_webhook(
    request: Request,
    editor: Annotated[CurrentEditor, Depends(admin_page)],
    endpoint_id: RowId,
) -> Response:
    try:
        url = await editor_site(request).run(lambda s: remove_endpoint(s, endpoint_id))
    except NewsletterError as exc:
        flash(request, str(exc), "error")
    else:
        log.info("webhook endpoint %s deleted by %s", endpoint_id, editor.email)
        flash(request, f"Endpoint {endpoint_id} ({url}) and its messages are deleted.")
    return RedirectResponse(PAGE, status_code=303)


@router.post(f"{PAGE}/test")
async def send_test(request: Request, endpoint_id: RowId) -> Response:
    site = editor_site(request)
    try:
        message_id = await site.run(lambda s: queue_test(s, endpoint_id))
    except NewsletterError as exc:
        flash(request, str(exc), "error")
        return RedirectResponse(PAGE, status_code=303)
    report = await run_in_threadpool(_attempt, site, message_id)
    flash(request, f"Test event to endpoint {endpoint_id}: {_said(report)}")
    return RedirectResponse(PAGE, status_code=303)


@router.post(f"{PAGE}/retry")
async def retry_message(request: Request, message_id: RowId) -> Response:
    site = editor_site(request)
    try:
        await site.run(lambda s: retry_now(s, message_id))
    except NewsletterError as exc:
        flash(request, str(exc), "error")
        return RedirectResponse(PAGE, status_code=303)
    report = await run_in_threadpool(_attempt, site, message_id)
    flash(request, f"Message {message_id}: {_said(report)}")
    return RedirectResponse(PAGE, status_code=303)


def _attempt(site: EditorSite, message_id: int) -> SendReport:
    sender = WebhookSender(site.database, site.settings)
    try:
        return sender.send_due(only=[message_id])
    finally:
        sender.close()


def _said(report: SendReport) -> str:
    if report.delivered:
        return "delivered."
    if report.attempted == 0:
        return "not attempted (its endpoint is disabled)."
    return f"not delivered ({report.errors[0]}); see the log."
