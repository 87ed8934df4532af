"""The campaign preview: each variant (a tab per segment) as readers will get it, previews
as a given subscriber, and "send a test".

A tab shows the email in two sandboxed frames (600 and 375 px wide) loaded from
``…/preview/{position}/email``, a same-origin document with its own strict policy
(:data:`~newsletter.web.editor.security.EMAIL_DOCUMENT_HEADERS`): no scripts, no forms, no
framing elsewhere. Beside it: the subject and preheader as an inbox lists them, the plain
text part, the size against Gmail's clipping point, every link with its brief, section and
narrative, and the compiler's warnings.

Previewing as a subscriber changes only the name: every signed link in a preview is made
with a key that is not ours (:mod:`campaigns.preview`), so nothing followed from a preview
can unsubscribe anyone or count as a click. The subscriber is named in URLs by their public
id, never by address.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from campaigns.audience import SubscriberMatch, match_subscriber
from campaigns.model import Campaign
from campaigns.preview import preview_variant, sample_copy, variant_envelope, variant_names
from campaigns.proofs import SentTest, check_testable, parse_test_addresses, send_test
from campaigns.service import get_campaign
from newsletter.errors import (
    ConflictError,
    DeliveryError,
    InvalidInput,
    NewsletterError,
    NotFoundError,
    RenderError,
)
from newsletter.render.context import GMAIL_CLIP_BYTES
from newsletter.render.variant import CompiledVariant, FilledEmail
from newsletter.web.editor.auth import csrf_protect, editor_page
from newsletter.web.editor.briefs import email_error_document
from newsletter.web.editor.campaigns import CampaignId
from newsletter.web.editor.security import EMAIL_DOCUMENT_HEADERS
from newsletter.web.editor.site import editor_site, flash, render
from subscribers.directory import find_by_email
from subscribers.model import Subscriber
from subscribers.signup import find_by_uid

router = APIRouter(
    include_in_schema=False, dependencies=[Depends(editor_page), Depends(csrf_protect)]
)
Position = Annotated[int, Path(ge=0, le=1000)]
VariantQuery = Annotated[int, Query(ge=0, le=1000)]
# A public id (token_urlsafe): anything else names nobody, and a NUL would not even reach
# PostgreSQL.
SubscriberQuery = Annotated[str | None, Query(max_length=64, pattern=r"^[A-Za-z0-9_-]*$")]
PREVIEW_WIDTHS = (600, 375)
TYPED_MAX = 2_000  # what a refused test form shows again of what was typed


@dataclass(frozen=True)
class PreviewTab:
    """What one tab of the preview shows."""

    position: int
    email: CompiledVariant | None
    copy: FilledEmail | None
    error: str | None

    @property
    def size(self) -> int:
        return self.email.estimated_size if self.email else 0

    @property
    def size_share(self) -> float:
        """The estimated size as a share of Gmail's clipping point (may exceed 1)."""
        return self.size / GMAIL_CLIP_BYTES


def _subscriber(session: Session, uid: str | None) -> Subscriber | None:
    if not uid:
        return None
    try:
        return find_by_uid(session, uid)
    except NotFoundError:
        return None


@dataclass(frozen=True)
class TestForm:
    """A test send that failed: what was typed (shown again) and why, beside the form."""

    addresses: str = ""
    error: str | None = None


@router.get("/editor/campaigns/{campaign_id}/preview")
async def preview_page(
    request: Request,
    campaign_id: CampaignId,
    variant: VariantQuery | None = None,
    subscriber: SubscriberQuery = None,
) -> Response:
    return await _preview(request, campaign_id, variant, subscriber)


async def _preview(
    request: Request,
    campaign_id: int,
    variant: int | None,
    subscriber: str | None,
    *,
    test_form: TestForm | None = None,
    status: int = 200,
) -> Response:
    site = editor_site(request)

    def load(
        session: Session,
    ) -> tuple[Campaign, list[str], PreviewTab, SubscriberMatch | None, str | None]:
        campaign = get_campaign(session, campaign_id)
        names = variant_names(session, campaign)
        person = _subscriber(session, subscriber)
        match = match_subscriber(session, campaign, person) if person else None
        position = variant
        if position is None:
            position = match.position if match and match.position is not None else 0
        if not 0 <= position < len(names):
            raise NotFoundError(f"campaign {campaign_id} has no variant {position}")
        sender = variant_envelope(session, campaign, site.settings, position).from_name
        try:
            email = preview_variant(session, campaign, site.settings, position)
        except RenderError as exc:
            return campaign, names, PreviewTab(position, None, None, str(exc)), match, sender
        copy = sample_copy(email, person.name if person else None)
        return campaign, names, PreviewTab(position, email, copy, None), match, sender

    campaign, names, tab, match, sender = await site.run(load)
    testable = True
    try:
        check_testable(campaign)
    except ConflictError:
        testable = False
    context = {
        "campaign": campaign,
        "names": names,
        "tab": tab,
        "match": match,
        "subscriber": match.uid if match else None,
        "widths": PREVIEW_WIDTHS,
        "clip_bytes": GMAIL_CLIP_BYTES,
        "budget": site.settings.email_size_budget,
        "testable": testable,
        "test_max": site.settings.editor_test_send_max,
        "from_name": sender,  # the frozen sender once the campaign is frozen
        "provider": site.settings.provider,
        "test_form": test_form or TestForm(),
    }
    return render(request, "preview.html", context, status=status)


@router.get("/editor/campaigns/{campaign_id}/preview/{position}/email")
async def preview_email_document(
    request: Request,
    campaign_id: CampaignId,
    position: Position,
    subscriber: SubscriberQuery = None,
) -> Response:
    """One variant's HTML for the preview frames (filled with harmless sample values)."""
    site = editor_site(request)

    def load(session: Session) -> str:
        campaign = get_campaign(session, campaign_id)
        person = _subscriber(session, subscriber)
        email = preview_variant(session, campaign, site.settings, position)
        return sample_copy(email, person.name if person else None).html

    try:
        html = await site.run(load)
    except RenderError as exc:
        return email_error_document(str(exc))
    return HTMLResponse(html, headers=EMAIL_DOCUMENT_HEADERS)


@router.post("/editor/campaigns/{campaign_id}/preview/as")
async def preview_as(request: Request, campaign_id: CampaignId) -> Response:
    """Find a subscriber by address and show the preview as they would get it."""
    form = await request.form()
    email = form.get("email")
    target = f"/editor/campaigns/{campaign_id}/preview"

    def load(session: Session) -> SubscriberMatch:
        campaign = get_campaign(session, campaign_id)
        person = find_by_email(session, email if isinstance(email, str) else "")
        return match_subscriber(session, campaign, person)

    try:
        match = await editor_site(request).run(load)
    except (InvalidInput, NotFoundError) as exc:
        flash(request, str(exc), "error")
        return RedirectResponse(target, status_code=303)
    if match.position is None:
        flash(request, "No segment of this campaign takes this subscriber.", "error")
        return RedirectResponse(f"{target}?subscriber={match.uid}", status_code=303)
    return RedirectResponse(
        f"{target}?variant={match.position}&subscriber={match.uid}", status_code=303
    )


@router.post("/editor/campaigns/{campaign_id}/test")
async def send_test_post(request: Request, campaign_id: CampaignId) -> Response:
    """Send variant ``variant`` as a test to the addresses given (through the provider)."""
    site = editor_site(request)
    form = await request.form()
    raw_position = form.get("variant")
    position = 0
    if isinstance(raw_position, str) and raw_position.isdigit() and len(raw_position) <= 4:
        position = int(raw_position)
    back = f"/editor/campaigns/{campaign_id}/preview?variant={position}"
    raw = form.get("addresses")
    typed = raw[:TYPED_MAX] if isinstance(raw, str) else ""

    async def refused(error: str, status: int) -> Response:
        """The preview again, what was typed still in the form and the error beside it."""
        form_again = TestForm(typed, error)
        return await _preview(
            request, campaign_id, position, None, test_form=form_again, status=status
        )

    try:
        addresses = parse_test_addresses(typed, site.settings.editor_test_send_max)
    except InvalidInput as exc:
        return await refused("; ".join(r for _, r in exc.problems), 422)
    try:
        result: SentTest = await run_in_threadpool(
            send_test, site.database, site.settings, campaign_id, position, addresses
        )
    except DeliveryError as exc:
        return await refused(f"the provider answered: {exc}", 502)
    except NewsletterError as exc:
        flash(request, f"Test not sent: {exc}", "error")
        return RedirectResponse(back, status_code=303)
    if result.sent:
        flash(
            request,
            f"Test of “{result.variant}” sent through {result.provider} to "
            + ", ".join(result.sent)
            + ".",
        )
    for address, reason in result.failed:
        flash(request, f"Test to {address} refused: {reason}", "error")
    return RedirectResponse(back, status_code=303)
