"""Editor pages for subscribers: search and filters, a subscriber's page (consent, deliveries,
events, suppression), status changes with a reason, CSV import and export, the GDPR export,
and erasure (admins only).

Every query is a service's (:mod:`subscribers.search`, :mod:`subscribers.status_change`,
:mod:`campaigns.subscriber_activity`, :mod:`subscribers.csv_io`, :mod:`subscribers.gdpr`);
this module reads the request, calls them in the thread pool and renders what they return.
A CSV upload is read bounded and imported in a worker thread (its rows are validated in a
separate process by the importer), never on the event loop.
"""

from __future__ import annotations

import io
import json
import logging
import os
import re
import tempfile
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated, Any, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Path, Query, Request
from fastapi.responses import FileResponse, RedirectResponse
from sqlalchemy.orm import Session
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.responses import Response

from campaigns.subscriber_activity import SubscriberProfile, subscriber_profile
from newsletter.delivery.capabilities import delivers_unicode_local_parts
from newsletter.errors import ConflictError, InvalidInput, Problem
from newsletter.web.editor.auth import CurrentEditor, admin_page, csrf_protect, editor_page
from newsletter.web.editor.segment_rules import whole_number
from newsletter.web.editor.site import editor_site, flash, render
from subscribers.csv_io import ImportOptions, ImportReport, export_csv, import_csv
from subscribers.directory import LISTED_STATUSES, shown_status
from subscribers.gdpr import export_personal_data
from subscribers.model import STATUSES, Segment
from subscribers.ratelimit import client_address
from subscribers.search import (
    PAGE_SIZE,
    SCAN_WINDOW,
    SubscriberPage,
    SubscriberQuery,
    cursor_position,
    page_cursor,
    search_subscribers,
    search_text,
)
from subscribers.segment_store import context_for, list_segments, rule_of, segment_by_id
from subscribers.segments import Rule, parse_rule
from subscribers.signup import Origin, find_by_uid
from subscribers.status_change import (
    StatusAction,
    StatusChange,
    allowed_actions,
    change_status,
    erase_by_editor,
)
from subscribers.topics import known_topics

log = logging.getLogger("newsletter.web.editor")

router = APIRouter(
    include_in_schema=False, dependencies=[Depends(editor_page), Depends(csrf_protect)]
)
SUBSCRIBERS = "/editor/subscribers"
IMPORT = f"{SUBSCRIBERS}/import"
Uid = Annotated[str, Path(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9_-]+$")]
Editor = Annotated[CurrentEditor, Depends(editor_page)]
Admin = Annotated[CurrentEditor, Depends(admin_page)]
Reason = Annotated[str, Form(max_length=2000)]
Text = Annotated[str, Query(max_length=300)]
NEVER_DAYS = 3650  # "never": no human open or click in the events kept (the rules' widest)
ENGAGEMENT = {
    "": "any",
    "within": "opened or clicked in the last N days",
    "not-within": "not opened or clicked in the last N days",
    "never": "never opened or clicked",
}


@dataclass(frozen=True, slots=True)
class Filters:
    """The list's filters as typed (shown back in the form and the next-page link)."""

    q: str = ""
    status: str = ""
    topic: str = ""
    segment: str = ""
    engaged: str = ""
    days: str = ""

    def query(self) -> str:
        """The filters as a query string (empty ones left out)."""
        return urlencode({k: getattr(self, k) for k in self.__slots__ if getattr(self, k)})

    def link(self, after: str) -> str:
        query = self.query()
        return f"{SUBSCRIBERS}?{query}{'&' if query else ''}after={after}"


def _rules(filters: Filters, segment: Segment | None) -> tuple[Rule, ...]:
    rules: list[Rule] = []
    if filters.topic:
        rules.append(parse_rule({"type": "topics", "any": [filters.topic]}, "topic"))
    if segment is not None:
        rules.append(rule_of(segment))
    if filters.engaged:
        rules.append(_engagement(filters))
    return tuple(rules)


def _engagement(filters: Filters) -> Rule:
    if filters.engaged not in ENGAGEMENT:
        raise InvalidInput("engaged", f"must be one of {', '.join(k for k in ENGAGEMENT if k)}")
    if filters.engaged == "never":
        opened = {"type": "opened", "within_days": NEVER_DAYS}
        return parse_rule({"type": "not", "rule": opened}, "engaged")
    days = filters.days.strip()
    number = whole_number(days)
    if number is None or not 1 <= number <= NEVER_DAYS:
        raise InvalidInput("days", f"give a number of days from 1 to {NEVER_DAYS}")
    opened = {"type": "opened", "within_days": number}
    rule = opened if filters.engaged == "within" else {"type": "not", "rule": opened}
    return parse_rule(rule, "engaged")


def _segment_id(text: str) -> int | None:
    if not text:
        return None
    number = whole_number(text, max_digits=9)
    if number is None:
        raise InvalidInput("segment", f"{text[:20]!r} names no segment")
    return number


def _search(
    session: Session, filters: Filters, after: str | None, topics: frozenset[str]
) -> tuple[SubscriberPage, str | None, list[Segment]]:
    segments = list(list_segments(session))
    if filters.status and filters.status not in LISTED_STATUSES:
        raise InvalidInput("status", f"must be one of {', '.join(LISTED_STATUSES)}")
    if filters.topic and filters.topic not in topics:
        raise InvalidInput("topic", f"{filters.topic[:60]!r} is not a known topic")
    search_text(filters.q)
    segment_id = _segment_id(filters.segment)
    segment = segment_by_id(session, segment_id) if segment_id else None
    query = SubscriberQuery(filters.q, filters.status or None, _rules(filters, segment))
    start = cursor_position(session, after) if after else None
    page = search_subscribers(session, query, context_for(session), after=start)
    return page, page_cursor(session, page), segments


@router.get(SUBSCRIBERS)
async def subscribers_page(
    request: Request,
    q: Text = "",
    status: Text = "",
    topic: Text = "",
    segment: Text = "",
    engaged: Text = "",
    days: Text = "",
    after: Annotated[str | None, Query(max_length=32, pattern=r"^[A-Za-z0-9_-]+$")] = None,
) -> Response:
    site = editor_site(request)
    filters = Filters(q, status, topic, segment, engaged, days)
    topics: frozenset[str] = await site.run(lambda s: known_topics(s, site.settings.topics))
    error: str | None = None
    try:
        page, cursor, segments = await site.run(lambda s: _search(s, filters, after, topics))
    except InvalidInput as exc:
        error = str(exc)
        page, cursor = SubscriberPage([], None), None
        segments = await site.run(lambda s: list(list_segments(s)))
    context = {
        "filters": filters,
        "page": page,
        "rows": [(row, shown_status(row)) for row in page.rows],
        "segments": segments,
        "topics": sorted(topics),
        "statuses": LISTED_STATUSES,
        "engagement": ENGAGEMENT,
        "error": error,
        "first_page": after is None,
        "next_link": filters.link(cursor) if cursor else None,
        "query": filters.query(),
        "window": SCAN_WINDOW,
        "page_size": PAGE_SIZE,
        "export_statuses": STATUSES,
    }
    return render(request, "subscribers.html", context, status=422 if error else 200)


# --- import and export (before /{uid}, which would take their names) ----------------------


@router.get(IMPORT)
async def import_page(request: Request) -> Response:
    return render(request, "subscribers_import.html", {"problems": [], "report": None})


@router.post(IMPORT)
async def import_upload(request: Request, editor: Editor) -> Response:
    site = editor_site(request)
    form = await request.form(max_files=1, max_fields=10)
    upload = form.get("file")
    confirmed = form.get("confirmed") == "1"
    welcome = confirmed and form.get("welcome") == "1"
    if not isinstance(upload, UploadFile) or not upload.filename:
        return _import_problems(request, [Problem("upload", None, "choose a CSV file")])
    if confirmed and not editor.is_admin:
        problem = Problem("confirmed", None, "only an admin may import people as active")
        return _import_problems(request, [problem])
    name = (upload.filename or "upload.csv").replace("\\", "/").rsplit("/", 1)[-1][:120]
    data = await upload.read(site.settings.editor_import_max_bytes + 1)
    await upload.close()
    if len(data) > site.settings.editor_import_max_bytes:
        limit = site.settings.editor_import_max_bytes
        problem = Problem(name, None, f"larger than {limit} bytes: use the command line")
        return _import_problems(request, [problem])
    topics = await site.run(lambda s: known_topics(s, site.settings.topics))
    options = ImportOptions(
        known_topics=topics,
        confirmed=confirmed,
        welcome=welcome,
        source="import",
        strict=True,
        ascii_local_part=not delivers_unicode_local_parts(site.settings.provider),
    )
    try:
        report = await run_in_threadpool(_import, site.database, data, name, options)
    except InvalidInput as exc:
        return _import_problems(request, [Problem(exc.field, None, exc.reason)])
    if report.errors:
        return _import_problems(request, report.errors)
    status = "active" if confirmed else "pending (no confirmation mail is sent to imports)"
    log.info("%s imported %s subscribers from %s", editor.email, report.imported, name)
    flash(request, f"{report.imported} imported as {status}, {len(report.skipped)} skipped.")
    context = {"problems": [], "report": report}
    return render(request, "subscribers_import.html", context)


def _import(database: Any, data: bytes, name: str, options: ImportOptions) -> ImportReport:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidInput(name, f"is not UTF-8 text ({exc.reason})") from None
    stream = io.StringIO(text, newline="")
    return import_csv(database, stream, source_name=name, options=options)


_COLUMN = re.compile(r"^(?:column \d+ \(([^)]+)\)|([a-z_]+(?:\.[\w-]+)?)): (.*)$", re.DOTALL)


def located(problem: Problem) -> tuple[str, int | None, str, str]:
    """A row problem as the page's table shows it: file, line, column (when the message
    names one: ``email: …``, ``column 3 (name): …``) and why."""
    found = _COLUMN.match(problem.message)
    if found is None:
        return problem.source, problem.line, "", problem.message
    return problem.source, problem.line, found.group(1) or found.group(2), found.group(3)


def _import_problems(request: Request, problems: list[Problem]) -> Response:
    context = {"problems": [located(problem) for problem in problems], "report": None}
    return render(request, "subscribers_import.html", context, status=422)


@router.get(f"{SUBSCRIBERS}/export.csv")
async def export(request: Request, editor: Editor, status: Text = "") -> Response:
    site = editor_site(request)
    if status and status not in STATUSES:
        raise InvalidInput("status", f"must be one of {', '.join(STATUSES)}")

    def write(session: Session) -> tuple[str, int]:
        handle, path = tempfile.mkstemp(prefix="subscribers-", suffix=".csv")
        try:
            with os.fdopen(handle, "w", encoding="utf-8", newline="") as out:
                rows = export_csv(session, out, status=status or None)
        except BaseException:
            os.unlink(path)
            raise
        return path, rows

    path, rows = await site.run(write)
    log.info("%s exported %s subscribers (status: %s)", editor.email, rows, status or "any")
    filename = f"subscribers-{status}.csv" if status else "subscribers.csv"
    return FileResponse(
        path,
        media_type="text/csv; charset=utf-8",
        filename=filename,
        background=BackgroundTask(os.unlink, path),
    )


# --- one subscriber ------------------------------------------------------------------------


@router.get(f"{SUBSCRIBERS}/{{uid}}")
async def subscriber_page(request: Request, uid: Uid) -> Response:
    return await _subscriber(request, uid)


async def _subscriber(
    request: Request, uid: str, *, error: str | None = None, reason: str = ""
) -> Response:
    profile: SubscriberProfile = await editor_site(request).run(
        lambda session: subscriber_profile(session, uid)
    )
    context = {
        "profile": profile,
        "person": profile.subscriber,
        "shown_status": shown_status(profile.subscriber),
        "actions": allowed_actions(profile.subscriber),
        "error": error,
        "reason": reason,
    }
    return render(request, "subscriber.html", context, status=422 if error else 200)


def _origin(request: Request) -> Origin:
    agent = request.headers.get("user-agent")
    return Origin(ip=client_address(request), user_agent=agent, source="editor")


@router.post(f"{SUBSCRIBERS}/{{uid}}/status")
async def change(
    request: Request,
    uid: Uid,
    editor: Editor,
    action: Annotated[Literal["unsubscribe", "reactivate"], Form()],
    reason: Reason = "",
) -> Response:
    site = editor_site(request)
    wanted = StatusChange(StatusAction(action), reason, editor.email)
    resend = site.settings.confirmation_resend_minutes

    def apply(session: Session) -> str:
        origin = _origin(request)
        return change_status(session, uid, wanted, origin, resend_after=timedelta(minutes=resend))

    try:
        done = await site.run(apply)
    except (InvalidInput, ConflictError) as exc:
        return await _subscriber(request, uid, error=str(exc), reason=reason)
    flash(request, done)
    return RedirectResponse(f"{SUBSCRIBERS}/{uid}", status_code=303)


@router.get(f"{SUBSCRIBERS}/{{uid}}/data.json")
async def personal_data(request: Request, uid: Uid, editor: Editor) -> Response:
    """The GDPR export: everything held about this person, as a JSON download."""

    def load(session: Session) -> dict[str, Any]:
        email = find_by_uid(session, uid).email or ""
        return export_personal_data(session, email)

    data = await editor_site(request).run(load)
    log.info("%s downloaded the personal data of subscriber %s", editor.email, uid)
    body = json.dumps(data, indent=2, ensure_ascii=False)
    headers = {"Content-Disposition": f'attachment; filename="subscriber-{uid}.json"'}
    return Response(body, media_type="application/json", headers=headers)


@router.get(f"{SUBSCRIBERS}/{{uid}}/erase")
async def erase_page(request: Request, uid: Uid, admin: Admin) -> Response:
    person = await editor_site(request).run(lambda session: find_by_uid(session, uid))
    context = {"person": person, "error": None, "reason": ""}
    return render(request, "subscriber_erase.html", context)


@router.post(f"{SUBSCRIBERS}/{{uid}}/erase")
async def erase(
    request: Request,
    uid: Uid,
    admin: Admin,
    reason: Reason = "",
    confirm_email: Annotated[str, Form(max_length=400)] = "",
) -> Response:
    site = editor_site(request)
    person = await site.run(lambda session: find_by_uid(session, uid))
    typed = confirm_email.strip().lower()
    if not typed or typed not in ((person.email or "").lower(), person.email_key):
        message = "Type the subscriber's address exactly to confirm."
        context = {"person": person, "error": message, "reason": reason}
        return render(request, "subscriber_erase.html", context, status=422)
    try:
        done = await site.run(lambda session: erase_by_editor(session, uid, admin.email, reason))
    except InvalidInput as exc:
        context = {"person": person, "error": str(exc), "reason": reason}
        return render(request, "subscriber_erase.html", context, status=422)
    log.warning("%s erased subscriber %s", admin.email, uid)
    flash(request, done)
    return RedirectResponse(SUBSCRIBERS, status_code=303)
