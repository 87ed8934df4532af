"""Editor pages for segments: the list in order with live counts, a form per rule kind that
builds the stored JSON rule (with a preview: the count and a sample of members), reordering
with number boxes, and deleting a segment no campaign uses.

Counting runs the rule's ``COUNT`` twice (matching, and mailable now) per segment shown:
the list page costs one scan of the subscribers per segment and count on a large list
(see docs/editor.md), the form's preview one rule.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import RedirectResponse
from sqlalchemy.orm import Session
from starlette.responses import Response

from campaigns.subscriber_activity import campaigns_using_segment
from newsletter.errors import ConflictError, InvalidInput
from newsletter.web.editor.auth import csrf_protect, editor_page
from newsletter.web.editor.segment_options import (
    NARRATIVE_LABELS,
    ORDER_LABELS,
    PREFIX,
    form_from_options,
    options_from_form,
)
from newsletter.web.editor.segment_rules import (
    NARRATIVES,
    STATUS_CHOICES,
    FormValues,
    form_from_rule,
    rule_from_form,
    shown_json,
    whole_number,
)
from newsletter.web.editor.site import editor_site, flash, render
from subscribers.model import Segment, Subscriber
from subscribers.segment_store import (
    SegmentCount,
    context_for,
    count_members,
    create_segment,
    delete_segment,
    list_segments,
    reorder_segments,
    rule_of,
    sample_members,
    segment_by_id,
    update_segment,
)
from subscribers.segments import parse_rule

router = APIRouter(
    include_in_schema=False, dependencies=[Depends(editor_page), Depends(csrf_protect)]
)
SEGMENTS = "/editor/segments"
SegmentId = Annotated[int, Path(ge=1, le=2_147_483_647)]
SAMPLE = 10
_MAX_FIELDS = 100


@dataclass(frozen=True, slots=True)
class Preview:
    rule: dict[str, Any]
    counts: SegmentCount
    members: list[Subscriber]


async def _form(request: Request) -> dict[str, Any]:
    """The posted form as a dict (check boxes as lists), bounded in fields and size."""
    form = await request.form(max_fields=_MAX_FIELDS, max_files=0)
    values: dict[str, Any] = {}
    for key in form:
        items = [item for item in form.getlist(key) if isinstance(item, str)]
        values[key] = items if key.endswith("_in") else (items[0] if items else "")
    return values


@router.get(SEGMENTS)
async def segments_page(request: Request) -> Response:
    def load(session: Session) -> list[tuple[Segment, SegmentCount]]:
        ctx = context_for(session)
        return [(s, count_members(session, rule_of(s), ctx)) for s in list_segments(session)]

    segments = await editor_site(request).read(load)
    return render(request, "segments.html", {"segments": segments})


@router.post(f"{SEGMENTS}/order")
async def reorder(request: Request) -> Response:
    values = await _form(request)
    positions: dict[int, int] = {}
    for key, value in values.items():
        segment_id = whole_number(key.removeprefix("position_"), max_digits=9)
        if not key.startswith("position_") or segment_id is None or not isinstance(value, str):
            continue
        position = whole_number(value.strip())
        if position is None:
            flash(request, f"Positions are whole numbers: {value[:20]!r} is not one.", "error")
            return RedirectResponse(SEGMENTS, status_code=303)
        positions[segment_id] = position
    await editor_site(request).run(lambda session: reorder_segments(session, positions))
    flash(request, "The segments are in their new order.")
    return RedirectResponse(SEGMENTS, status_code=303)


def _context(
    segment: Segment | None,
    values: FormValues,
    *,
    name: str,
    description: str,
    options: dict[str, str],
    rule_json: str,
    error: InvalidInput | ConflictError | None = None,
    preview: Preview | None = None,
) -> dict[str, Any]:
    return {
        "segment": segment,
        "values": values,
        "name": name,
        "description": description,
        "options": options,
        "rule_json": rule_json,
        "json_mode": values.get("mode") == "json",
        "error": error,
        "preview": preview,
        "statuses": STATUS_CHOICES,
        "narratives": NARRATIVES,
        "narrative_labels": NARRATIVE_LABELS,
        "order_labels": ORDER_LABELS,
        "invalid": {f for f, _ in error.problems} if isinstance(error, InvalidInput) else (),
    }


def _stored_context(segment: Segment | None) -> dict[str, Any]:
    rule = segment.rule if segment else {"type": "everyone"}
    values = form_from_rule(rule) or {"mode": "json"}
    return _context(
        segment,
        values,
        name=segment.name if segment else "",
        description=(segment.description or "") if segment else "",
        options=form_from_options(segment.options if segment else None),
        rule_json=shown_json(rule),
    )


@router.get(f"{SEGMENTS}/new")
async def new_segment_page(request: Request) -> Response:
    return render(request, "segment_form.html", _stored_context(None))


@router.get(f"{SEGMENTS}/{{segment_id}}/edit")
async def edit_segment_page(request: Request, segment_id: SegmentId) -> Response:
    segment = await editor_site(request).run(lambda session: segment_by_id(session, segment_id))
    return render(request, "segment_form.html", _stored_context(segment))


@router.post(f"{SEGMENTS}/new")
async def new_segment(request: Request) -> Response:
    return await _submit(request, None)


@router.post(f"{SEGMENTS}/{{segment_id}}/edit")
async def edit_segment(request: Request, segment_id: SegmentId) -> Response:
    return await _submit(request, segment_id)


async def _submit(request: Request, segment_id: int | None) -> Response:
    values = await _form(request)
    site = editor_site(request)
    segment = await site.run(lambda s: segment_by_id(s, segment_id)) if segment_id else None
    texts = {k: str(values.get(k) or "") for k in ("name", "description")}
    rule: dict[str, Any] | None = None
    try:
        rule = rule_from_form(values)
        options = options_from_form(values)
        if values.get("action") == "preview":
            preview = await site.read(lambda session: _preview(session, rule or {}))
            context = _form_context(segment, values, texts, rule, preview=preview)
            return render(request, "segment_form.html", context)
        saved = await site.run(lambda session: _save(session, segment_id, texts, rule, options))
    except (InvalidInput, ConflictError) as exc:
        context = _form_context(segment, values, texts, rule, error=exc)
        return render(request, "segment_form.html", context, status=422)
    flash(request, f"Segment {saved} is saved.")
    return RedirectResponse(SEGMENTS, status_code=303)


def _form_context(
    segment: Segment | None,
    values: dict[str, Any],
    texts: dict[str, str],
    rule: dict[str, Any] | None,
    *,
    error: InvalidInput | ConflictError | None = None,
    preview: Preview | None = None,
) -> dict[str, Any]:
    rule_json = shown_json(rule) if rule is not None else str(values.get("rule_json") or "")
    options = {k: str(v) for k, v in values.items() if k.startswith(PREFIX)}
    return _context(
        segment,
        values,
        **texts,
        options=options,
        rule_json=rule_json,
        error=error,
        preview=preview,
    )


def _preview(session: Session, rule: dict[str, Any]) -> Preview:
    parsed, ctx = parse_rule(rule), context_for(session)
    members = list(sample_members(session, parsed, ctx, limit=SAMPLE))
    return Preview(rule, count_members(session, parsed, ctx), members)


def _save(
    session: Session,
    segment_id: int | None,
    texts: dict[str, str],
    rule: dict[str, Any],
    options: dict[str, Any],
) -> str:
    description = texts["description"] or None
    if segment_id is None:
        made = create_segment(
            session, texts["name"], rule, options=options, description=description
        )
        return made.name
    segment = segment_by_id(session, segment_id)
    update_segment(
        session,
        segment,
        name=texts["name"],
        rule=rule,
        options=options,
        description=description,
    )
    return segment.name


@router.get(f"{SEGMENTS}/{{segment_id}}/delete")
async def delete_page(request: Request, segment_id: SegmentId) -> Response:
    def load(session: Session) -> tuple[Segment, list[tuple[int, str]]]:
        segment = segment_by_id(session, segment_id)
        return segment, campaigns_using_segment(session, segment.id)

    segment, used_by = await editor_site(request).run(load)
    return render(request, "segment_delete.html", {"segment": segment, "used_by": used_by})


@router.post(f"{SEGMENTS}/{{segment_id}}/delete")
async def delete(request: Request, segment_id: SegmentId) -> Response:
    def remove(session: Session) -> str:
        segment = segment_by_id(session, segment_id)
        used_by = campaigns_using_segment(session, segment.id)
        if used_by:
            names = ", ".join(f"{name} (#{cid})" for cid, name in used_by)
            raise ConflictError(f"segment {segment.name} is used by {names}: not deleted")
        name = segment.name
        delete_segment(session, name)
        return name

    try:
        name = await editor_site(request).run(remove)
    except ConflictError as exc:
        flash(request, str(exc), "error")
        return RedirectResponse(f"{SEGMENTS}/{segment_id}/delete", status_code=303)
    flash(request, f"Segment {name} is deleted.")
    return RedirectResponse(SEGMENTS, status_code=303)
